"""The catalogue as code: providers, their models and the tiers, as a YAML document.

    export_document()            → the instance as a document (keys as ${ENV} references)
    read_document(text, env)     → a Plan, or CatalogueError listing every problem, each
                                   with its path (providers[2].models[0].settings.top_p: …)
    plan.apply(prune=…)          → the changes, in one transaction

A key never appears in a file: a provider's key is written as `${NAME}`, NAME derived
from the provider (OpenAI → OPENAI_API_KEY) unless its settings name another
(`api_key_env`), and an import reads NAME from the environment. Importing an export of
the same instance changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from providers import catalogue_json, validators
from providers.encryption import UnreadableSecretError
from providers.models import LLMModel, Protocol, Provider, Tier
from providers.presets import PRESETS

VERSION = 1
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

PROVIDER_FIELDS = {
    "name": str,
    "preset": str,
    "protocol": str,
    "base_url": str,
    "api_key": str,
    "enabled": bool,
    "allow_private_network": bool,
    "allow_personal_keys": bool,
    "settings": dict,
    "models": list,
}
MODEL_FIELDS = {
    "model_id": str,
    "display_name": str,
    "enabled": bool,
    "is_default": bool,
    "settings": dict,
    "tiers": list,
}
TIER_FIELDS = {
    "name": str,
    "description": str,
    "group": str,
    "default_model": str,
    "daily_token_quota": (int, type(None)),
    "is_default": bool,
}


class CatalogueError(Exception):
    """The document cannot be applied; `problems` lists every reason, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def key_env_name(provider: Provider) -> str:
    custom = (provider.settings or {}).get("api_key_env")
    return custom or slugify(provider.name).replace("-", "_").upper() + "_API_KEY"


# --- export ----------------------------------------------------------------------------


def export_document(providers: list[Provider] | None = None) -> str:
    """YAML for the given providers (default: all), their models, and every tier."""
    chosen = providers if providers is not None else list(Provider.objects.all())
    document = {
        "version": VERSION,
        "tiers": [_tier_entry(tier) for tier in Tier.objects.select_related("group")],
        "providers": [_provider_entry(provider) for provider in chosen],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _provider_entry(provider: Provider) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": provider.name,
        "preset": provider.preset,
        "protocol": provider.protocol,
        "base_url": provider.base_url,
    }
    if provider.api_key:
        entry["api_key"] = f"${{{key_env_name(provider)}}}"
    entry |= {
        "enabled": provider.enabled,
        "allow_private_network": provider.allow_private_network,
        "allow_personal_keys": provider.allow_personal_keys,
        "settings": provider.settings or {},
        "models": [
            {
                "model_id": model.model_id,
                "display_name": model.display_name,
                "enabled": model.enabled,
                "is_default": model.is_default,
                "settings": model.settings or {},
                "tiers": sorted(tier.name for tier in model.allowed_tiers.all()),
            }
            for model in provider.models.prefetch_related("allowed_tiers").order_by("model_id")
        ],
    }
    return entry


def _tier_entry(tier: Tier) -> dict[str, Any]:
    model = tier.default_model
    return {
        "name": tier.name,
        "description": tier.description,
        "group": tier.group.name if tier.group else tier.name,
        "default_model": f"{model.provider.name}/{model.model_id}" if model else "",
        "daily_token_quota": tier.daily_token_quota,
        "is_default": tier.is_default,
    }


# --- import ----------------------------------------------------------------------------


@dataclass
class Change:
    action: str  # "create", "update", "unchanged", "prune"
    kind: str  # "provider", "model", "tier"
    name: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        changed = f" ({', '.join(self.fields)})" if self.fields else ""
        verb = {"prune": "would prune"}.get(self.action, self.action)
        return f"{verb} {self.kind} {self.name}{changed}"


@dataclass
class Plan:
    tiers: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    keys: dict[str, str]  # provider name → key from the environment
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a JSON registry could not map

    def apply(self, *, prune: bool) -> list[Change]:
        with transaction.atomic():
            return _apply(self, prune=prune)


def read_document(text: str, *, env: Mapping[str, str]) -> Plan:
    """Validate the whole document (YAML, or the JSON registry format: JSON is YAML too);
    raise CatalogueError with every problem at once."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CatalogueError([f"(document): {where}not valid YAML ({error.problem})"]) from None
    notes: list[str] = []
    if catalogue_json.looks_like_registry_json(document):
        document, keys, notes = catalogue_json.from_registry_json(document)
        env = {**env, **keys}
    plan = _plan(document, env)
    plan.notes = notes
    return plan


def _plan(document: Any, env: Mapping[str, str]) -> Plan:
    problems: list[str] = []
    if not isinstance(document, dict):
        raise CatalogueError(["(document): must be a mapping with `providers` and `tiers`"])
    for key in document.keys() - {"version", "tiers", "providers"}:
        problems.append(f"{key}: is not a known section (known: providers, tiers, version)")
    if document.get("version", VERSION) != VERSION:
        problems.append(f"version: must be {VERSION}")
    tiers = _list(document, "tiers", problems)
    providers = _list(document, "providers", problems)
    _check_entries(tiers, "tiers", TIER_FIELDS, problems)
    _check_entries(providers, "providers", PROVIDER_FIELDS, problems)
    keys = _check_providers(providers, env, problems)
    tier_names = {t.get("name") for t in tiers if isinstance(t, dict)}
    _check_tiers(tiers, providers, problems)
    _check_models(
        providers, tier_names | set(Tier.objects.values_list("name", flat=True)), problems
    )
    if problems:
        raise CatalogueError(problems)
    plan = Plan(tiers=tiers, providers=providers, keys=keys)
    plan.changes = _changes(plan)
    return plan


def _list(document: dict, key: str, problems: list[str]) -> list:
    value = document.get(key) or []
    if not isinstance(value, list):
        problems.append(f"{key}: must be a list")
        return []
    return value


def _check_entries(
    entries: list, path: str, fields: Mapping[str, type | tuple], problems: list[str]
) -> None:
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        where = f"{path}[{n}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for key, value in entry.items():
            expected = fields.get(key)
            if expected is None:
                problems.append(f"{where}.{key}: is not a known field (known: {', '.join(fields)})")
            elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                problems.append(f"{where}.{key}: must be {_kind(expected)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name: is required")
        elif name in seen:
            problems.append(f"{where}.name: {name} appears twice")
        else:
            seen.add(name)


def _kind(expected: type | tuple) -> str:
    names = {str: "a string", bool: "true or false", dict: "a mapping", list: "a list"}
    if isinstance(expected, tuple):
        return "a whole number or empty"
    return names.get(expected, expected.__name__)


def _check_providers(
    providers: list, env: Mapping[str, str], problems: list[str]
) -> dict[str, str]:
    keys: dict[str, str] = {}
    missing: list[str] = []
    for n, entry in enumerate(providers):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        where = f"providers[{n}]"
        preset = entry.get("preset", "custom")
        if preset not in PRESETS:
            problems.append(
                f"{where}.preset: {preset} is not a preset (known: {', '.join(PRESETS)})"
            )
            continue
        protocol = entry.get("protocol", PRESETS[preset].protocol)
        if protocol not in Protocol.values:
            problems.append(f"{where}.protocol: must be one of {', '.join(Protocol.values)}")
        reference = entry.get("api_key")
        if isinstance(reference, str) and reference:
            match = _REFERENCE.match(reference)
            if match is None:
                problems.append(
                    f"{where}.api_key: write a ${{ENV_VAR}} reference, never the key itself"
                )
            elif match[1] not in env:
                missing.append(f"{match[1]} ({where}.api_key)")
            else:
                keys[entry["name"]] = env[match[1]]
        for key, problem in validators.settings_problems(
            entry.get("settings", {}), validators.PROVIDER_SETTINGS
        ):
            problems.append(f"{where}.settings{'.' + key if key else ''}: {problem}")
        _check_provider_row(entry, keys.get(entry["name"]), where, problems)
    if missing:
        problems.append("missing environment variables: " + ", ".join(missing))
    return keys


def _check_provider_row(entry: dict, key: str | None, where: str, problems: list[str]) -> None:
    """The model's own rules (URL, key required, host change), reported at their paths."""
    provider = _provider_row(entry, key)
    try:
        provider.full_clean(exclude=["name", "settings"], validate_unique=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                problems.append(f"{where}.{name}: {message}")


def _provider_row(entry: dict, key: str | None) -> Provider:
    """The provider as it would be saved: the stored row updated, or a new one."""
    provider = Provider.objects.filter(name=entry["name"]).first() or Provider(name=entry["name"])
    preset = PRESETS[entry.get("preset", "custom")]
    provider.preset = preset.slug
    provider.protocol = entry.get("protocol", preset.protocol)
    provider.base_url = entry.get("base_url", preset.base_url)
    provider.enabled = entry.get("enabled", False)
    provider.allow_private_network = entry.get("allow_private_network", False)
    provider.allow_personal_keys = entry.get("allow_personal_keys", True)
    provider.settings = entry.get("settings", {})
    # The file's key counts as re-entered when the host moves; otherwise an unchanged key
    # is left as stored, so re-importing writes nothing.
    if key is not None and (provider._moves_stored_key() or _revealed(provider) != key):
        provider.api_key = key
    return provider


def _revealed(provider: Provider) -> str | None:
    try:
        return provider.api_key.reveal()
    except UnreadableSecretError:  # the file's key replaces it
        return None


def _check_models(providers: list, tier_names: set, problems: list[str]) -> None:
    for n, entry in enumerate(providers):
        if not isinstance(entry, dict) or not isinstance(entry.get("models", []), list):
            continue
        where = f"providers[{n}].models"
        _check_entries_by_id(entry.get("models", []), where, problems)
        anthropic = (
            entry.get("protocol", PRESETS.get(entry.get("preset", ""), PRESETS["custom"]).protocol)
            == "anthropic"
        )
        defaults = 0
        for m, model in enumerate(entry.get("models", [])):
            if not isinstance(model, dict):
                continue
            at = f"{where}[{m}]"
            try:
                validators.validate_model_id(model.get("model_id", ""))
            except ValidationError as error:
                problems.append(f"{at}.model_id: {error.messages[0]}")
            for key, problem in validators.settings_problems(
                model.get("settings", {}), validators.MODEL_SETTINGS
            ):
                problems.append(f"{at}.settings{'.' + key if key else ''}: {problem}")
            if anthropic:
                for key in sorted(validators.NOT_ON_ANTHROPIC & set(model.get("settings") or {})):
                    problems.append(
                        f"{at}.settings.{key}: Anthropic's Messages API does not take this setting"
                    )
            for t, tier in enumerate(
                model.get("tiers", []) if isinstance(model.get("tiers"), list) else []
            ):
                if tier not in tier_names:
                    problems.append(f"{at}.tiers[{t}]: {tier} is not a tier")
            defaults += bool(model.get("is_default"))
        if defaults > 1:
            problems.append(f"{where}: at most one model can be the default, {defaults} are")


def _check_entries_by_id(models: list, where: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for m, model in enumerate(models):
        if not isinstance(model, dict):
            problems.append(f"{where}[{m}]: must be a mapping")
            continue
        for key, value in model.items():
            expected = MODEL_FIELDS.get(key)
            if expected is None:
                problems.append(
                    f"{where}[{m}].{key}: is not a known field (known: {', '.join(MODEL_FIELDS)})"
                )
            elif not isinstance(value, expected):
                problems.append(f"{where}[{m}].{key}: must be {_kind(expected)}")
        model_id = model.get("model_id")
        if model_id in seen:
            problems.append(f"{where}[{m}].model_id: {model_id} appears twice")
        seen.add(model_id)


def _check_tiers(tiers: list, providers: list, problems: list[str]) -> None:
    offered = {
        f"{p['name']}/{m.get('model_id')}"
        for p in providers
        if isinstance(p, dict) and isinstance(p.get("models", []), list)
        for m in p.get("models", [])
        if isinstance(m, dict)
    }
    defaults = 0
    for n, tier in enumerate(tiers):
        if not isinstance(tier, dict):
            continue
        default_model = tier.get("default_model") or ""
        if default_model and default_model not in offered:
            problems.append(
                f"tiers[{n}].default_model: {default_model} is not a model in this file "
                "(write provider name/model id)"
            )
        quota = tier.get("daily_token_quota")
        if isinstance(quota, int) and not isinstance(quota, bool) and quota < 1:
            problems.append(f"tiers[{n}].daily_token_quota: must be a positive whole number")
        defaults += bool(tier.get("is_default"))
    if defaults > 1:
        problems.append(f"tiers: at most one tier can be the default, {defaults} are")


# --- planning and applying ---------------------------------------------------------------


def _changes(plan: Plan) -> list[Change]:
    changes = []
    for entry in plan.tiers:
        stored = Tier.objects.filter(name=entry["name"]).first()
        changes.append(_compare("tier", entry["name"], stored, _tier_values(entry)))
    for entry in plan.providers:
        stored = Provider.objects.filter(name=entry["name"]).first()
        values = _provider_values(entry)
        change = _compare("provider", entry["name"], stored, values)
        key = plan.keys.get(entry["name"])
        if stored and key is not None and _revealed(stored) != key:
            change.action, change.fields = "update", (*change.fields, "api_key")
        changes.append(change)
        for model in entry.get("models", []):
            row = stored.models.filter(model_id=model["model_id"]).first() if stored else None
            name = f"{entry['name']}/{model['model_id']}"
            model_change = _compare("model", name, row, _model_values(model))
            if row and sorted(t.name for t in row.allowed_tiers.all()) != sorted(
                model.get("tiers", [])
            ):
                model_change.action = "update"
                model_change.fields = (*model_change.fields, "tiers")
            changes.append(model_change)
    changes += _prunable(plan)
    return changes


def _compare(kind: str, name: str, stored: Any, values: dict[str, Any]) -> Change:
    if stored is None:
        return Change("create", kind, name)
    differing = tuple(key for key, value in values.items() if getattr(stored, key) != value)
    return Change("update" if differing else "unchanged", kind, name, differing)


def _prunable(plan: Plan) -> list[Change]:
    named = {entry["name"] for entry in plan.providers}
    changes = [
        Change("prune", "provider", name)
        for name in Provider.objects.exclude(name__in=named).values_list("name", flat=True)
    ]
    for entry in plan.providers:
        ids = {model["model_id"] for model in entry.get("models", [])}
        stale = LLMModel.objects.filter(provider__name=entry["name"]).exclude(model_id__in=ids)
        changes += [
            Change("prune", "model", f"{entry['name']}/{m}")
            for m in stale.values_list("model_id", flat=True)
        ]
    tiers = {entry["name"] for entry in plan.tiers}
    changes += [
        Change("prune", "tier", name)
        for name in Tier.objects.exclude(name__in=tiers).values_list("name", flat=True)
    ]
    return changes


def _provider_values(entry: dict) -> dict[str, Any]:
    preset = PRESETS[entry.get("preset", "custom")]
    return {
        "preset": preset.slug,
        "protocol": entry.get("protocol", preset.protocol),
        "base_url": entry.get("base_url", preset.base_url),
        "enabled": entry.get("enabled", False),
        "allow_private_network": entry.get("allow_private_network", False),
        "allow_personal_keys": entry.get("allow_personal_keys", True),
        "settings": entry.get("settings", {}),
    }


def _model_values(entry: dict) -> dict[str, Any]:
    return {
        "display_name": entry.get("display_name", ""),
        "enabled": entry.get("enabled", True),
        "is_default": entry.get("is_default", False),
        "settings": entry.get("settings", {}),
    }


def _tier_values(entry: dict) -> dict[str, Any]:
    return {
        "description": entry.get("description", ""),
        "daily_token_quota": entry.get("daily_token_quota"),
        "is_default": entry.get("is_default", False),
    }


def _apply(plan: Plan, *, prune: bool) -> list[Change]:
    applied = [c for c in plan.changes if c.action in ("create", "update")]
    if prune:
        applied += [c for c in plan.changes if c.action == "prune"]
        _prune(plan)
    # The default tier may move: clear the flag first so the one-default index never sees two.
    Tier.objects.exclude(name__in=[t["name"] for t in plan.tiers if t.get("is_default")]).update(
        is_default=False
    )
    tiers = {}
    for entry in plan.tiers:
        tier, _ = Tier.objects.update_or_create(name=entry["name"], defaults=_tier_values(entry))
        if entry.get("group") and (tier.group is None or tier.group.name != entry["group"]):
            tier.group, _ = Group.objects.get_or_create(name=entry["group"])
            tier.save(update_fields=["group"])
        tier.ensure_group()
        tiers[tier.name] = tier
    tiers |= {t.name: t for t in Tier.objects.exclude(name__in=tiers)}
    models = {}
    for entry in plan.providers:
        provider = _provider_row(entry, plan.keys.get(entry["name"]))
        provider.full_clean()
        provider.save()
        LLMModel.objects.filter(provider=provider, is_default=True).exclude(
            model_id__in=[m["model_id"] for m in entry.get("models", []) if m.get("is_default")]
        ).update(is_default=False)
        for item in entry.get("models", []):
            model, _ = LLMModel.objects.update_or_create(
                provider=provider, model_id=item["model_id"], defaults=_model_values(item)
            )
            model.allowed_tiers.set([tiers[name] for name in item.get("tiers", [])])
            models[f"{provider.name}/{model.model_id}"] = model
    for entry in plan.tiers:
        default = models.get(entry.get("default_model") or "")
        Tier.objects.filter(name=entry["name"]).update(default_model=default)
    return applied


def _prune(plan: Plan) -> None:
    named = [entry["name"] for entry in plan.providers]
    Provider.objects.exclude(name__in=named).delete()
    for entry in plan.providers:
        ids = [model["model_id"] for model in entry.get("models", [])]
        LLMModel.objects.filter(provider__name=entry["name"]).exclude(model_id__in=ids).delete()
    Tier.objects.exclude(name__in=[entry["name"] for entry in plan.tiers]).delete()
