"""The split plan: the catalogue as the groups a key-balancing gateway (GPT-Load) holds.

Pure: offers in, groups out, no database and no network, so the page, `manage.py
gateway_plan` and the sync all show and push the same plan, and the same catalogue always
gives the same one (a re-sync changes nothing).

- A gateway name offered by one provider stays in that provider's main group, named after
  the provider.
- A name offered by several providers gets, per provider, a group `{provider}-{index}-{name}`
  holding that one model (index: the provider's place among the name's offerers, by
  name), and one aggregate group named after the name joining them with equal weights.
- GPT-Load joins only members of one channel: the same channel type (openai, anthropic)
  and the same key-check path (its ValidateSubGroups, aggregate_group_service.go). So the
  offerers of a name are split by channel first; a channel with one offerer keeps the name in that
  provider's main group, one with several gets its own aggregate (named `{name}-{channel}`
  when the name has several). Clients that reach every channel (uni-api does) balance
  between them; each such name is listed in the plan's notes.
- Standard groups carry redirect rules gateway name → original id, identity rules
  included: strict redirect (so clients can ask only for names the group serves) needs
  a rule for every name. Aggregates carry none (GPT-Load refuses them there); their
  members' rules do the renaming.
- Group names fit GPT-Load's rule `^[a-z0-9_-]{1,100}$`: lowercased, every other
  character (dots, slashes, colons, spaces …) turned into a dash, runs of dashes made one,
  truncated, then made unique with -2, -3 … in the order main groups, aggregates,
  per-provider groups.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GROUP_NAME_MAX = 100
GROUP_NAME = re.compile(r"[a-z0-9_-]{1,100}")
MEMBER_WEIGHT = 1  # aggregates split traffic evenly
CHANNEL_TYPES = {"openai": "openai", "anthropic": "anthropic"}  # our protocol → GPT-Load's
# The path GPT-Load checks keys on for an OpenAI-compatible base that does not end in /v1
# (GLM's …/api/paas/v4, Gemini's …/v1beta/openai): clients then call it without /v1.
BARE_CHAT_PATH = "/chat/completions"


@dataclass(frozen=True)
class Offer:
    """One live model of an enabled provider, as plain values."""

    provider: str
    protocol: str  # "openai" | "anthropic"
    base_url: str
    model_id: str  # what the upstream calls it; always what is sent upstream
    gateway_name: str  # what clients ask for (the model id when it has none)


@dataclass(frozen=True)
class Group:
    name: str
    kind: Literal["standard", "aggregate"]
    channel_type: str
    validation_endpoint: str  # "" = GPT-Load's default for the channel type
    provider: str = ""  # standard groups
    upstream: str = ""  # standard groups: the base GPT-Load appends the client's path to
    redirects: tuple[tuple[str, str], ...] = ()  # (gateway name, original id), by name
    members: tuple[str, ...] = ()  # aggregates: member group names, each MEMBER_WEIGHT
    serves: str = ""  # the one gateway name an aggregate or per-provider group is for

    @property
    def test_model(self) -> str:
        """The original id GPT-Load checks the group's keys with."""
        return self.redirects[0][1] if self.redirects else ""


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    # gateway name → the providers offering it, for names offered by more than one
    shared: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": [
                {
                    **{k: v for k, v in asdict(group).items() if k not in ("redirects", "members")},
                    "test_model": group.test_model,
                    "redirects": dict(group.redirects),
                    "members": [{"group": m, "weight": MEMBER_WEIGHT} for m in group.members],
                }
                for group in self.groups
            ],
            "shared": {name: list(providers) for name, providers in self.shared.items()},
            "notes": list(self.notes),
        }


def gptload_upstream(protocol: str, base_url: str) -> tuple[str, str]:
    """(upstream, validation endpoint) for a provider's base URL: GPT-Load appends the
    client's path (/v1/chat/completions, /v1/messages) to the upstream, so a base that ends
    in /v1 loses it; an OpenAI-compatible one that does not keeps its path and is checked
    on BARE_CHAT_PATH."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        return base.removesuffix("/v1"), ""
    if protocol == "anthropic":  # the SDK's base is the origin; /v1/messages is appended
        return base, ""
    return base, BARE_CHAT_PATH


def group_name(text: str) -> str:
    """`text` as far as GPT-Load's group rule allows, before uniqueness."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")[:GROUP_NAME_MAX].rstrip("-")
    return name or "group"


def build(offers: list[Offer]) -> Plan:
    offers = sorted(set(offers), key=lambda o: (o.provider, o.gateway_name, o.model_id))
    by_name: dict[str, list[Offer]] = defaultdict(list)
    for offer in offers:
        by_name[offer.gateway_name].append(offer)
    kept: dict[str, list[Offer]] = defaultdict(list)  # provider → offers in its main group
    # (gateway name, channel label, offers) for each aggregate
    aggregates: list[tuple[str, str, list[Offer]]] = []
    notes: list[str] = []
    for name in sorted(by_name):
        channels: dict[tuple[str, str], list[Offer]] = defaultdict(list)
        for offer in by_name[name]:
            channels[_channel(offer)].append(offer)
        if len(channels) > 1:
            notes.append(_across_channels_note(name, channels))
        for channel, members in sorted(channels.items()):
            if len(members) == 1:
                kept[members[0].provider].append(members[0])
            else:
                label = _channel_label(channel) if len(channels) > 1 else ""
                aggregates.append((name, label, members))
    # Names are claimed main groups first, then aggregates, then per-provider groups, so
    # a long list of shared names never pushes a provider's own group off its name.
    names = _Names()
    main = [_standard(names.claim(provider), provider, kept[provider]) for provider in sorted(kept)]
    aggregate_names = [names.claim(f"{n}-{label}" if label else n) for n, label, _ in aggregates]
    groups = main
    for (name, _, members), aggregate_name in zip(aggregates, aggregate_names, strict=True):
        providers = [m.provider for m in members]
        split = [
            _standard(
                names.claim(f"{o.provider}-{providers.index(o.provider) + 1}-{name}"),
                o.provider,
                [o],
                serves=name,
            )
            for o in members
        ]
        channel_type, endpoint = _channel(members[0])
        aggregate = Group(
            name=aggregate_name,
            kind="aggregate",
            channel_type=channel_type,
            validation_endpoint=endpoint,
            members=tuple(g.name for g in split),
            serves=name,
        )
        groups += [*split, aggregate]  # members first: they exist before it joins them
    shared = {
        name: tuple(sorted({o.provider for o in offered}))
        for name, offered in sorted(by_name.items())
        if len({o.provider for o in offered}) > 1
    }
    return Plan(groups=tuple(groups), shared=shared, notes=tuple(notes))


def _channel(offer: Offer) -> tuple[str, str]:
    return CHANNEL_TYPES[offer.protocol], gptload_upstream(offer.protocol, offer.base_url)[1]


def _channel_label(channel: tuple[str, str]) -> str:
    channel_type, endpoint = channel
    return f"{channel_type}-{endpoint.strip('/').replace('/', '-')}" if endpoint else channel_type


def _across_channels_note(name: str, channels: dict[tuple[str, str], list[Offer]]) -> str:
    parts = [
        f"{_channel_label(channel)} ({', '.join(o.provider for o in offers)})"
        for channel, offers in sorted(channels.items())
    ]
    return (
        f"{name} is offered over channels GPT-Load cannot join in one aggregate: "
        f"{'; '.join(parts)}. Each channel gets its own group; a client that reaches every "
        "channel (uni-api) balances between them."
    )


def _standard(name: str, provider: str, offers: list[Offer], serves: str = "") -> Group:
    first = offers[0]
    upstream, endpoint = gptload_upstream(first.protocol, first.base_url)
    return Group(
        name=name,
        kind="standard",
        channel_type=CHANNEL_TYPES[first.protocol],
        validation_endpoint=endpoint,
        provider=provider,
        upstream=upstream,
        redirects=tuple(sorted((o.gateway_name, o.model_id) for o in offers)),
        serves=serves,
    )


class _Names:
    """Group names unique after sanitizing and truncating: a taken one gets -2, -3 …"""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, text: str) -> str:
        base = group_name(text)
        name, n = base, 1
        while name in self.taken:
            n += 1
            suffix = f"-{n}"
            name = base[: GROUP_NAME_MAX - len(suffix)].rstrip("-") + suffix
        self.taken.add(name)
        return name
