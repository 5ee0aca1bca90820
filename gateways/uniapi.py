"""uni-api's api.yaml from the catalogue's plan: built, checked against the rules uni-api's
loader applies (github yym68686/uni-api, uni_api/config/schema.py and the README's rules,
which both its Python runtime and its Rust front end read), written atomically.

- With GPT-Load: one uni-api provider per GPT-Load group clients call (main groups and
  aggregates; an aggregate's members are reached through it), at
  `{gptload}/proxy/{group}/v1/chat/completions` (or `/v1/messages`, engine claude) with the
  groups' proxy key, listing the gateway names (GPT-Load redirects them to the original
  ids). Without: one per provider, at its own API with its own key, each model listed as
  `original id: gateway name` where they differ.
- Every provider lists its models: uni-api's Rust runtime drops a provider without any,
  and its Python runtime would discover them and rewrite the file.
- Client keys: one admin key (model `all`), and one per tier listing exactly the gateway
  names that tier may use (a tier that may use none gets no key: uni-api reads a missing
  list as `all`). A name with `/` is written `<vendor/model>`: uni-api reads a bare one as
  `provider/model`.
- The file is written to a temporary file beside it (mode 0600), then renamed over it:
  uni-api, which reloads it every few seconds, never reads half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateways import plan
from gateways.models import GroupKind
from providers.errors import UserFacingError
from providers.keys.encryption import mask

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"


class ApiYamlError(UserFacingError):
    """The file would not load in uni-api as meant, or could not be written; says which."""


@dataclass(frozen=True)
class Upstream:
    """A provider as uni-api reaches it without GPT-Load."""

    name: str
    protocol: str
    base_url: str
    key: str  # "" when it needs none


@dataclass(frozen=True)
class ClientKey:
    role: str  # what uni-api's log shows for the key
    key: str
    models: tuple[str, ...]  # gateway names; ("all",) for the admin key


@dataclass(frozen=True)
class ThroughGPTLoad:
    url: str
    proxy_key: str


def build(
    planned: plan.Plan,
    offers: Iterable[plan.Offer],
    *,
    upstreams: dict[str, Upstream],
    gptload: ThroughGPTLoad | None,
    clients: list[ClientKey],
    preferences: dict[str, Any],
) -> dict[str, Any]:
    providers = _through_gptload(planned, gptload) if gptload else _direct(list(offers), upstreams)
    return {
        "providers": providers,
        "api_keys": [
            {"api": client.key, "role": client.role, "model": [_rule(m) for m in client.models]}
            for client in clients
        ],
        "preferences": preferences,
    }


def _through_gptload(planned: plan.Plan, gptload: ThroughGPTLoad) -> list[dict[str, Any]]:
    providers = []
    for group in planned.groups:
        if group.kind == GroupKind.STANDARD and group.serves:
            continue  # an aggregate's member: clients reach it through the aggregate
        anthropic = group.channel_type == "anthropic"
        # An off-/v1 channel is called without /v1 (gateways.plan.BARE_CHAT_PATH).
        path = ANTHROPIC_PATH if anthropic else group.validation_endpoint or OPENAI_PATH
        names = (
            [group.serves] if group.kind == GroupKind.AGGREGATE else [n for n, _ in group.redirects]
        )
        entry: dict[str, Any] = {
            "provider": group.name,
            "base_url": f"{gptload.url.rstrip('/')}/proxy/{group.name}{path}",
            "api": gptload.proxy_key,
            "model": names,
        }
        if anthropic:
            entry["engine"] = "claude"  # named: uni-api's own guess goes by the URL
        providers.append(entry)
    return providers


def _direct(offers: list[plan.Offer], upstreams: dict[str, Upstream]) -> list[dict[str, Any]]:
    by_provider: dict[str, list[plan.Offer]] = {}
    for offer in sorted(offers, key=lambda o: (o.provider, o.gateway_name)):
        by_provider.setdefault(offer.provider, []).append(offer)
    providers = []
    for name, offered in by_provider.items():
        upstream = upstreams[name]
        anthropic = upstream.protocol == "anthropic"
        base = upstream.base_url.rstrip("/")
        url = base.removesuffix("/v1") + ANTHROPIC_PATH if anthropic else base + "/chat/completions"
        entry: dict[str, Any] = {
            "provider": plan.group_name(name),
            "base_url": url,
            "model": [
                o.model_id if o.gateway_name == o.model_id else {o.model_id: o.gateway_name}
                for o in offered
            ],
        }
        if upstream.key:
            entry["api"] = upstream.key
        if anthropic:
            entry["engine"] = "claude"
        providers.append(entry)
    return providers


def _rule(name: str) -> str:
    return f"<{name}>" if "/" in name else name


# --- the loader's rules ----------------------------------------------------------------


def check(config: dict[str, Any]) -> None:
    """Refuse a file uni-api would refuse, or would load otherwise than meant (its silent
    rules: a provider without models is dropped, a key without a model list may use all)."""
    providers = config.get("providers")
    if not isinstance(providers, list) or not providers:
        raise ApiYamlError("api.yaml would list no provider: no model is offered to the gateways.")
    served: set[str] = set()
    names: set[str] = set()
    for n, entry in enumerate(providers, 1):
        where = f"providers[{n}]"
        name = entry.get("provider")
        if not isinstance(name, str) or not name:
            raise ApiYamlError(f"{where} has no provider name.")
        if name in names:
            raise ApiYamlError(f"{where}: two providers are named {name}.")
        names.add(name)
        if not str(entry.get("base_url", "")).startswith(("http://", "https://")):
            raise ApiYamlError(f"{where} ({name}): base_url is not an http(s) URL.")
        models = entry.get("model")
        if not isinstance(models, list) or not models:
            raise ApiYamlError(f"{where} ({name}) lists no model: uni-api would drop it.")
        for model in models:
            if isinstance(model, str) and model:
                served.add(model)
            elif isinstance(model, dict) and len(model) == 1:
                ((upstream, alias),) = model.items()
                if not (isinstance(upstream, str) and isinstance(alias, str) and alias):
                    raise ApiYamlError(f"{where} ({name}): {model!r} is not `id: name`.")
                served.add(alias)
            else:
                raise ApiYamlError(f"{where} ({name}): {model!r} is not a model entry.")
    keys: set[str] = set()
    for n, entry in enumerate(config.get("api_keys") or [], 1):
        where = f"api_keys[{n}] ({entry.get('role', '')})"
        key = entry.get("api")
        if not isinstance(key, str) or not key or key in keys:
            raise ApiYamlError(f"{where}: its key is missing or used twice.")
        keys.add(key)
        rules = entry.get("model")
        if not isinstance(rules, list) or not rules:
            raise ApiYamlError(f"{where}: no model list; uni-api would let it use every model.")
        for rule in rules:
            if rule == "all":
                continue
            bare = rule[1:-1] if rule.startswith("<") and rule.endswith(">") else rule
            if "/" in rule and bare == rule:
                raise ApiYamlError(f"{where}: {rule} would be read as provider/model.")
            if bare not in served:
                raise ApiYamlError(f"{where}: no provider serves {bare}.")


def render(config: dict[str, Any]) -> str:
    """The deployable file, keys in plain; ApiYamlError if uni-api would misread it."""
    check(config)
    return HEADER + _dump(config)


def preview(config: dict[str, Any]) -> str:
    """The file with every key masked, for the page; ApiYamlError as render()."""
    check(config)
    return HEADER + _dump(masked(config))


HEADER = "# Written by Switchboard's gateway sync: changes made here are overwritten.\n"


def _dump(config: dict[str, Any]) -> str:
    # safe_dump quotes what YAML would read as another type (numbers, dates, booleans).
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)


def masked(config: dict[str, Any]) -> dict[str, Any]:
    return {
        **config,
        "providers": [
            {**p, "api": mask(p["api"])} if "api" in p else p for p in config["providers"]
        ],
        "api_keys": [{**k, "api": mask(k["api"])} for k in config["api_keys"]],
    }


def write(path: str, text: str) -> bool:
    """`text` to `path` atomically, mode 0600; False when the file already holds it."""
    target = Path(path)
    if not target.parent.is_dir():
        raise ApiYamlError(
            f"The folder {target.parent} does not exist: create it, or fix the path."
        )
    try:
        if target.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ApiYamlError(f"{target} cannot be read: {error.strerror}.") from None
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".api.yaml.")
    except OSError as error:
        raise ApiYamlError(f"{target.parent} cannot be written to: {error.strerror}.") from None
    try:
        with os.fdopen(handle, "w") as file:  # mkstemp makes it 0600
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ApiYamlError(f"{target} cannot be written: {error.strerror}.") from None
    return True
