"""Bring what a team's gateways already hold into the catalogue: GPT-Load's standard groups
or a uni-api api.yaml, read as providers with their models (original id and gateway name)
and a key, compared with the catalogue, shown, then applied on confirmation.

Reading never changes anything. The comparison names every conflict, and applying skips
them: a model that exists under another gateway name (the catalogue's stays), a provider
found at a URL another provider of the catalogue has under another name (the two are not
merged: one of them is renamed by hand first), a name that breaks the gateway-name rule.
A provider found with a key is created with it; an existing provider's key is never
replaced, only reported when it differs. Providers made here start switched off, their
models on: a person switches a provider on once its key is verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction

from gateways.gptload import GPTLoad
from gateways.models import GPTLoadInstance
from gateways.sync import NO_GPTLOAD
from gateways.uniapi import ANTHROPIC_PATH
from providers import validators
from providers.errors import UserFacingError
from providers.keys.encryption import Secret, mask
from providers.models import GATEWAY_NAME, LLMModel, ModelSource, Provider

CHAT_PATH = "/chat/completions"
PROTOCOLS = {"openai": "openai", "anthropic": "anthropic"}  # GPT-Load channel → ours


class NotGatewayConfigError(UserFacingError):
    """The source cannot be read as a gateway's configuration; says where and why."""


@dataclass
class Found:
    """A provider as a gateway holds it."""

    name: str
    protocol: str
    base_url: str
    key: str = field(default="", repr=False)
    models: list[tuple[str, str]] = field(default_factory=list)  # (original id, gateway name)
    where: str = ""  # the group or entry it came from


@dataclass(frozen=True)
class Step:
    action: str  # create provider, add model, conflict, unchanged, skipped
    provider: str
    detail: str
    model: tuple[str, str] | None = None  # (original, gateway name) a step adds


@dataclass
class Plan:
    found: list[Found]
    steps: list[Step]

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in ("create provider", "add model")]

    @property
    def conflicts(self) -> list[Step]:
        return [s for s in self.steps if s.action == "conflict"]


# --- reading -------------------------------------------------------------------------


def read_gptload() -> list[Found]:
    """The configured GPT-Load instance's groups as found providers."""
    instance = GPTLoadInstance.objects.first()
    if instance is None:
        raise UserFacingError(NO_GPTLOAD)

    async def read() -> list[Found]:
        async with instance.client() as client:
            return await from_gptload(client)

    return async_to_sync(read)()


async def from_gptload(client: GPTLoad) -> list[Found]:
    """GPT-Load's standard groups of the channels Switchboard speaks; aggregates only join
    groups, which are read themselves."""
    await client.check_version()
    found = []
    for group in await client.groups():
        protocol = PROTOCOLS.get(group.channel_type)
        if group.group_type != "standard" or protocol is None or not group.upstreams:
            continue
        upstream = max(group.upstreams, key=lambda u: u[1])[0].rstrip("/")
        # GPT-Load's upstream is the base without /v1 (gateways.plan.gptload_upstream).
        base = (
            upstream if group.validation_endpoint or protocol == "anthropic" else upstream + "/v1"
        )
        models = [(original, name) for name, original in sorted(group.redirects.items())]
        if not models and group.test_model:
            models = [(group.test_model, group.test_model)]
        keys = await client.keys(group.id)
        found.append(
            Found(
                group.name, protocol, base, keys[0] if keys else "", models, f"group {group.name}"
            )
        )
    return found


MAX_YAML_BYTES = 1024 * 1024  # a team's api.yaml is a few KiB


def from_api_yaml(text: str) -> list[Found]:
    if len(text.encode()) > MAX_YAML_BYTES:
        raise NotGatewayConfigError("This file is over 1 MiB: no api.yaml is that large.")
    try:
        # Aliases are refused before anything is built: a few lines of them expand to
        # gigabytes ("billion laughs"), and uni-api's own files need none.
        if any(isinstance(token, yaml.AliasToken) for token in yaml.scan(text)):
            raise NotGatewayConfigError(
                "This file uses YAML aliases (*name): write the values out instead."
            )
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise NotGatewayConfigError(
            f"This is not YAML{where}: {getattr(error, 'problem', error)}."
        ) from None
    if not isinstance(config, dict) or not isinstance(config.get("providers"), list):
        raise NotGatewayConfigError("This is not a uni-api api.yaml: it has no `providers` list.")
    found = []
    for n, entry in enumerate(config["providers"], 1):
        where = f"providers[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("provider"), str):
            raise NotGatewayConfigError(f"{where} has no provider name.")
        url = str(entry.get("base_url") or "")
        anthropic = entry.get("engine") == "claude" or url.rstrip("/").endswith(ANTHROPIC_PATH)
        base = url.rstrip("/").removesuffix(ANTHROPIC_PATH if anthropic else CHAT_PATH)
        keys = entry.get("api")
        key = keys[0] if isinstance(keys, list) and keys else keys if isinstance(keys, str) else ""
        found.append(
            Found(
                entry["provider"],
                "anthropic" if anthropic else "openai",
                base,
                str(key),
                [_model(item, where) for item in entry.get("model") or []],
                where,
            )
        )
    return found


def _model(item: Any, where: str) -> tuple[str, str]:
    if isinstance(item, dict) and len(item) == 1:
        ((original, name),) = item.items()
        return str(original), str(name)
    if isinstance(item, str | int | float):
        return str(item), str(item)
    raise NotGatewayConfigError(f"{where}: {item!r} is not a model entry.")


# --- comparing and applying ------------------------------------------------------------


def compare(found: list[Found]) -> Plan:
    steps: list[Step] = []
    by_name = {p.name: p for p in Provider.objects.all()}
    by_url = {p.base_url.rstrip("/"): p for p in by_name.values()}
    for provider in found:
        existing = by_name.get(provider.name)
        same_url = by_url.get(provider.base_url)
        if existing is None and same_url is not None:
            steps.append(
                Step(
                    "conflict",
                    provider.name,
                    f"{same_url.name} is at the same URL ({provider.base_url}) under another "
                    "name: rename one of them first",
                )
            )
            continue
        if existing is None:
            try:
                validators.validate_base_url(provider.base_url, allow_private_network=True)
            except ValidationError as error:
                steps.append(Step("skipped", provider.name, " ".join(error.messages)))
                continue
            key = f", key {mask(provider.key)}" if provider.key else ", no key"
            steps.append(
                Step(
                    "create provider",
                    provider.name,
                    f"{provider.protocol} at {provider.base_url}{key}",
                )
            )
            held: dict[str, str] = {}
        else:
            held = dict(
                LLMModel.objects.live()
                .filter(provider=existing)
                .values_list("model_id", GATEWAY_NAME)
            )
            if provider.key and existing.api_key and existing.api_key.reveal() != provider.key:
                steps.append(
                    Step(
                        "conflict",
                        provider.name,
                        f"its key here ({existing.masked_key()}) differs from the gateway's "
                        f"({mask(provider.key)}): kept",
                    )
                )
        steps += _model_steps(provider, held)
    return Plan(found, steps)


def _model_steps(provider: Found, held: dict[str, str]) -> list[Step]:
    steps = []
    names = {name: original for original, name in held.items()}
    for original, name in provider.models:
        try:
            validators.validate_gateway_name(name)
        except ValidationError as error:
            steps.append(Step("skipped", provider.name, f"{original}: {' '.join(error.messages)}"))
            continue
        if original in held:
            if held[original] == name:
                steps.append(Step("unchanged", provider.name, f"{original} as {name}"))
            else:
                steps.append(
                    Step(
                        "conflict",
                        provider.name,
                        f"{original} exists with gateway name {held[original]}, not {name}: kept",
                    )
                )
        elif name in names:
            steps.append(
                Step("conflict", provider.name, f"{name} is served by {names[name]} already")
            )
        else:
            names[name] = original
            shown = original if name == original else f"{original} as {name}"
            steps.append(Step("add model", provider.name, shown, (original, name)))
    return steps


@transaction.atomic
def apply(plan: Plan) -> int:
    """Make the plan's changes (not its conflicts); how many."""
    created = {s.provider for s in plan.changes if s.action == "create provider"}
    adding = {(s.provider, s.model) for s in plan.changes if s.action == "add model"}
    made = 0
    for found in plan.found:
        if found.name in created:
            provider = Provider(
                name=found.name,
                preset="custom",
                protocol=found.protocol,
                base_url=found.base_url,
                allow_private_network=True,
                api_key=Secret(found.key),
                enabled=False,
            )
            provider.full_clean()
            provider.save()
            made += 1
        else:
            provider = Provider.objects.filter(name=found.name).first()
        for original, name in found.models:
            if provider is None or (found.name, (original, name)) not in adding:
                continue
            model = LLMModel(
                provider=provider,
                model_id=original,
                gateway_name="" if name == original else name,
                enabled=True,
                source=ModelSource.IMPORTED,
            )
            model.full_clean()
            model.save()
            made += 1
    return made
