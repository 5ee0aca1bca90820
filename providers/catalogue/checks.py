"""Checks on a catalogue document, each problem with its path in the document.

The model's own rules (Provider.clean: URLs, required keys, a host change needing the
key again) run on the row as it would be saved, so a file cannot do what the admin
refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.views.decorators.debug import sensitive_variables

from providers import validators
from providers.keys import variables
from providers.keys.encryption import UnreadableSecretError
from providers.models import LLMModel, Protocol, Provider, Tier
from providers.presets import PRESETS

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
    "gateway_name": str,
    "deleted": bool,
    "enabled": bool,
    "is_default": bool,
    "settings": dict,
    "tiers": list,
    "prices": dict,
    "fallbacks": list,
}
# A model's prices, per million tokens (LLMModel's price fields).
PRICE_KEYS = {
    "input": "input_price",
    "cached_input": "cached_input_price",
    "output": "output_price",
}
TIER_FIELDS = {
    "name": str,
    "description": str,
    "group": str,
    "default_model": str,
    "daily_token_quota": (int, type(None)),
    "monthly_cost_budget": (int, float, str, type(None)),
    "is_default": bool,
}


def _longest(model: type[Model], *names: str) -> dict[str, int]:
    return {name: model._meta.get_field(name).max_length for name in names}


# What the database columns hold: a longer value would pass the plan and fail the save.
LONGEST = {
    "providers": _longest(Provider, "name", "base_url"),
    "tiers": _longest(Tier, "name") | {"group": Group._meta.get_field("name").max_length},
    "models": _longest(LLMModel, "model_id", "display_name", "gateway_name"),
}
LARGEST_QUOTA = 2**31 - 1  # a PositiveIntegerField on PostgreSQL


def amount(value: object, *, places: int) -> Decimal | None:
    """A price or budget as written (a number, or a number in a string), or None when it
    is empty; ValueError saying what is wrong with it. Both columns hold 12 digits, of
    which `places` after the point."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError("must be a number of zero or more")
    below = 10 ** (12 - places)
    if number >= below:  # first: rounding a huge number fails
        raise ValueError(f"must be less than {below:,}")
    if number != round(number, places):
        raise ValueError(f"must have at most {places} decimal places")
    return number


def _too_long(key: object, value: object, longest: Mapping[str, int]) -> str:
    limit = longest.get(key)  # type: ignore[call-overload]
    if isinstance(value, str) and limit is not None and len(value) > limit:
        return f"must be at most {limit} characters long"
    return ""


def check_entries(
    entries: list, path: str, fields: Mapping[str, type | tuple], problems: list[str]
) -> None:
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        where = f"{path}[{n}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for key, value in list(entry.items()):
            expected = fields.get(key)
            if expected is None:
                problems.append(f"{where}.{key}: is not a known field (known: {', '.join(fields)})")
            elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                problems.append(f"{where}.{key}: must be {_kind(expected)}")
                # Reported; dropped, so the checks after this one can trust every type.
                del entry[key]
            elif too_long := _too_long(key, value, LONGEST[path]):
                problems.append(f"{where}.{key}: {too_long}")
                del entry[key]
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
        return "a number or empty" if float in expected else "a whole number or empty"
    return names.get(expected, expected.__name__)


@dataclass
class Keys:
    """What the document's key references resolve to."""

    found: dict[str, str] = field(default_factory=dict, repr=False)  # provider name → key
    kept: set[str] = field(default_factory=set)  # providers keeping their stored key


@sensitive_variables("env", "keys")  # an error report shows no key
def check_providers(
    providers: list, env: Mapping[str, str], problems: list[str], *, reads_env: bool
) -> Keys:
    """`env` holds the variables a reference may name; `reads_env` is False when the
    server's environment is not among them (the admin import, unless
    CATALOGUE_ADMIN_READS_ENV), which changes what a missing one is told."""
    keys = Keys()
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
            name = match[1] if match else ""
            if match is None:
                problems.append(
                    f"{where}.api_key: write a ${{ENV_VAR}} reference, never the key itself"
                )
            elif refused := variables.refusal_here(name):
                problems.append(f"{where}.api_key: {refused}")
            elif env.get(name):
                keys.found[entry["name"]] = env[name]
            elif _has_stored_key(entry["name"]):
                keys.kept.add(entry["name"])  # an export of this instance, imported back
            else:
                missing.append(f"{name} ({where}.api_key)")
        for key, problem in validators.settings_problems(
            entry.get("settings", {}), validators.PROVIDER_SETTINGS
        ):
            problems.append(f"{_setting_path(where, key)}: {problem}")
        _checkprovider_row(entry, keys.found.get(entry["name"]), where, problems)
    if missing and not reads_env:
        problems.append(
            "the admin import does not read the server's environment, so these new "
            f"providers have no key: {', '.join(missing)}. Import without their api_key "
            "and enter the keys on the providers' pages, or run `manage.py import_config`, "
            "or set CATALOGUE_ADMIN_READS_ENV on the server"
        )
    elif missing:
        problems.append("missing environment variables: " + ", ".join(missing))
    return keys


def _has_stored_key(name: str) -> bool:
    provider = Provider.objects.filter(name=name).first()
    return provider is not None and bool(provider.api_key)


def _checkprovider_row(entry: dict, key: str | None, where: str, problems: list[str]) -> None:
    """The model's own rules (URL, key required, host change), reported at their paths."""
    provider = provider_row(entry, key)
    try:
        provider.full_clean(exclude=["name", "settings"], validate_unique=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            if name == "settings":
                continue  # check_providers reported each with its own path
            for message in messages:
                problems.append(f"{where}.{name}: {message}")


def provider_row(entry: dict, key: str | None) -> Provider:
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
    if key is not None and (provider._moves_stored_key() or revealed_key(provider) != key):
        provider.api_key = key
    return provider


def revealed_key(provider: Provider) -> str | None:
    try:
        return provider.api_key.reveal()
    except UnreadableSecretError:  # the file's key replaces it
        return None


def _setting_path(where: str, key: object) -> str:
    # "" stands for the settings value as a whole (validators.settings_problems).
    return f"{where}.settings.{key}" if key != "" else f"{where}.settings"


def models_of(entry: object) -> list:
    """A provider entry's models; none when the entry or its list has the wrong shape
    (check_entries reports that)."""
    models = entry.get("models", []) if isinstance(entry, dict) else []
    return models if isinstance(models, list) else []


def check_model_entries(providers: list, problems: list[str]) -> None:
    """Each provider's models: mappings of known fields, each of its type."""
    for n, entry in enumerate(providers):
        _check_entries_by_id(models_of(entry), f"providers[{n}].models", problems)


def check_models(providers: list, tier_names: set, problems: list[str]) -> None:
    """The models' values; check_model_entries dropped those of the wrong type."""
    for n, entry in enumerate(providers):
        if not models_of(entry):
            continue
        where = f"providers[{n}].models"
        anthropic = (
            entry.get("protocol", PRESETS.get(entry.get("preset", ""), PRESETS["custom"]).protocol)
            == "anthropic"
        )
        defaults = 0
        served: dict[str, str] = {}  # gateway name → the live model id serving it
        for m, model in enumerate(models_of(entry)):
            if not isinstance(model, dict):
                continue
            at = f"{where}[{m}]"
            try:
                validators.validate_model_id(model.get("model_id", ""))
            except ValidationError as error:
                problems.append(f"{at}.model_id: {error.messages[0]}")
            try:
                validators.validate_gateway_name(model.get("gateway_name", ""))
            except ValidationError as error:
                problems.append(f"{at}.gateway_name: {error.messages[0]}")
            name = model.get("gateway_name") or model.get("model_id")
            if not model.get("deleted") and (
                other := served.setdefault(name, model.get("model_id"))
            ) != model.get("model_id"):
                problems.append(
                    f"{at}.gateway_name: {name} is already the gateway name of {other} in this "
                    "provider; two models of one provider cannot share one"
                )
            for key, problem in validators.settings_problems(
                model.get("settings", {}), validators.MODEL_SETTINGS
            ):
                problems.append(f"{_setting_path(at, key)}: {problem}")
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
            _check_prices(model, at, problems)
            defaults += bool(model.get("is_default"))
        if defaults > 1:
            problems.append(f"{where}: at most one model can be the default, {defaults} are")


def _check_prices(model: dict, at: str, problems: list[str]) -> None:
    prices = model.get("prices", {})
    for key in prices.keys() - PRICE_KEYS.keys():
        problems.append(f"{at}.prices.{key}: is not a price (known: {', '.join(PRICE_KEYS)})")
    for key in prices.keys() & PRICE_KEYS.keys():
        try:
            amount(prices[key], places=4)
        except ValueError as error:
            problems.append(f"{at}.prices.{key}: {error}")


def check_fallbacks(providers: list, problems: list[str]) -> None:
    """Each fallback names a model of this file or of the registry, not the model itself."""
    offered = _offered(providers) | {
        f"{provider}/{model_id}"
        for provider, model_id in LLMModel.objects.values_list("provider__name", "model_id")
    }
    for n, entry in enumerate(providers):
        for m, model in enumerate(models_of(entry)):
            if not isinstance(model, dict):
                continue
            itself = f"{entry.get('name')}/{model.get('model_id')}"
            for f, name in enumerate(model.get("fallbacks", [])):
                at = f"providers[{n}].models[{m}].fallbacks[{f}]"
                if name == itself:
                    problems.append(f"{at}: a model cannot be its own fallback")
                elif name not in offered:
                    problems.append(
                        f"{at}: {name} is not a model here (write provider name/model id)"
                    )
            if len(set(model.get("fallbacks", []))) < len(model.get("fallbacks", [])):
                problems.append(f"providers[{n}].models[{m}].fallbacks: lists a model twice")


def _offered(providers: list) -> set[str]:
    return {
        f"{p.get('name')}/{m.get('model_id')}"
        for p in providers
        for m in models_of(p)
        if isinstance(m, dict)
    }


def _check_entries_by_id(models: list, where: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for m, model in enumerate(models):
        if not isinstance(model, dict):
            problems.append(f"{where}[{m}]: must be a mapping")
            continue
        for key, value in list(model.items()):
            expected = MODEL_FIELDS.get(key)
            if expected is None:
                problems.append(
                    f"{where}[{m}].{key}: is not a known field (known: {', '.join(MODEL_FIELDS)})"
                )
            elif not isinstance(value, expected) or (
                key in ("tiers", "fallbacks") and not all(isinstance(item, str) for item in value)
            ):
                kinds = {"tiers": "a list of tier names", "fallbacks": "a list of model names"}
                kind = kinds.get(key) or _kind(expected)
                problems.append(f"{where}[{m}].{key}: must be {kind}")
                del model[key]  # as in check_entries
            elif too_long := _too_long(key, value, LONGEST["models"]):
                problems.append(f"{where}[{m}].{key}: {too_long}")
                del model[key]
        model_id = model.get("model_id")
        if model_id in seen:
            problems.append(f"{where}[{m}].model_id: {model_id} appears twice")
        seen.add(model_id)


def check_tiers(tiers: list, providers: list, problems: list[str]) -> None:
    offered = _offered(providers)
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
        if (
            isinstance(quota, int)
            and not isinstance(quota, bool)
            and not 0 < quota <= LARGEST_QUOTA
        ):
            problems.append(
                f"tiers[{n}].daily_token_quota: must be a positive whole number "
                f"(at most {LARGEST_QUOTA})"
            )
        try:
            amount(tier.get("monthly_cost_budget"), places=2)
        except ValueError as error:
            problems.append(f"tiers[{n}].monthly_cost_budget: {error}")
        defaults += bool(tier.get("is_default"))
    if defaults > 1:
        problems.append(f"tiers: at most one tier can be the default, {defaults} are")
