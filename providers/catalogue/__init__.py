"""The catalogue as code: providers, their models and the tiers, as a YAML document.

    export_document()            → the instance as a document (keys as ${ENV} references)
    read_document(text, env=…)   → a Plan, or CatalogueError listing every problem, each
                                   with its path (providers[2].models[0].settings.top_p: …)
    plan.apply(prune=…)          → the changes, in one transaction (or CatalogueError)

A key never appears in a file: a provider's key is written as `${NAME}`, NAME derived
from the provider (OpenAI → OPENAI_API_KEY) unless its settings name another
(`api_key_env`), and an import reads NAME from the variables it is given — only those
meant to hold provider keys (providers/keys/variables.py). A provider that already has a key
keeps it when NAME is not set, so importing an export of the same instance changes
nothing, with or without the variables.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from providers.catalogue import checks, json_format, yaml_loader
from providers.errors import UserFacingError
from providers.models import Fallback, LLMModel, ModelSource, Provider, Tier
from providers.presets import PRESETS

VERSION = 1
# A catalogue of several thousand models fits in a few hundred KiB; past this, a file is
# refused before it is parsed (README, "The catalogue as code").
MAX_BYTES = 1024 * 1024
TOO_BIG = f"(document): is larger than the limit of {MAX_BYTES // 1024} KiB"
# UTF-32's marks first: UTF-32-LE's begins with UTF-16-LE's.
_OTHER_UNICODE = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
MAX_PROVIDERS = 200
MAX_MODELS = 10_000
MAX_TIERS = 200
# The advisory lock key of catalogue applies: any number no other lock of ours uses.
REGISTRY_LOCK = 0x5B_CA7A


class CatalogueError(UserFacingError):
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
                "gateway_name": model.gateway_name,
                **({"deleted": True} if model.is_deleted else {}),
                "enabled": model.enabled,
                "is_default": model.is_default,
                "settings": model.settings or {},
                "tiers": sorted(tier.name for tier in model.allowed_tiers.all()),
                **_prices_entry(model),
                **_fallbacks_entry(model),
            }
            for model in provider.models.prefetch_related(
                "allowed_tiers", "fallback_links__fallback__provider"
            ).order_by("model_id")
        ],
    }
    return entry


def _prices_entry(model: LLMModel) -> dict[str, Any]:
    prices = {
        key: float(getattr(model, field))
        for key, field in checks.PRICE_KEYS.items()
        if getattr(model, field) is not None
    }
    return {"prices": prices} if prices else {}


def _fallbacks_entry(model: LLMModel) -> dict[str, Any]:
    names = fallback_names(model)
    return {"fallbacks": names} if names else {}


def fallback_names(model: LLMModel) -> list[str]:
    """The model's fallbacks in order, each as provider name/model id."""
    return [
        f"{link.fallback.provider.name}/{link.fallback.model_id}"
        for link in model.fallback_links.all()
    ]


def _tier_entry(tier: Tier) -> dict[str, Any]:
    model = tier.default_model
    return {
        "name": tier.name,
        "description": tier.description,
        "group": tier.group.name if tier.group else tier.name,
        "default_model": f"{model.provider.name}/{model.model_id}" if model else "",
        "daily_token_quota": tier.daily_token_quota,
        "monthly_cost_budget": (
            float(tier.monthly_cost_budget) if tier.monthly_cost_budget is not None else None
        ),
        "is_default": tier.is_default,
    }


# --- import ----------------------------------------------------------------------------


@dataclass
class Change:
    action: str  # "create", "update", "unchanged", "prune"
    kind: str  # "provider", "model", "tier"
    name: str
    fields: tuple[str, ...] = ()
    remark: str = ""  # e.g. "keeps the stored key"

    def __str__(self) -> str:
        details = "; ".join(filter(None, [", ".join(self.fields), self.remark]))
        verb = {"prune": "would prune"}.get(self.action, self.action)
        return f"{verb} {self.kind} {self.name}{f' ({details})' if details else ''}"


@dataclass
class Plan:
    tiers: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    keys: checks.Keys
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the flat JSON format could not map

    def apply(self, *, prune: bool) -> list[Change]:
        """The changes made, in one transaction, one apply at a time; CatalogueError, with
        nothing changed, when a rule the plan checked fails now: the registry changed in
        between (another worker, another import)."""
        try:
            with transaction.atomic():
                _lock_registry()
                return _apply(self, prune=prune)
        except (ValidationError, IntegrityError) as error:
            detail = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise CatalogueError(
                [
                    "(document): the registry changed while this was applied, so nothing was "
                    f"changed ({detail}); show the plan again"
                ]
            ) from None


def _lock_registry() -> None:
    """One apply at a time, the next seeing what the one before it wrote. Unserialised, two
    imports inserting the same names in different orders each wait on the other's first
    insert: PostgreSQL breaks that deadlock with an error. There a transaction-level
    advisory lock serialises them (released at commit or rollback); SQLite's IMMEDIATE
    transactions (config/settings.py) already hold its one write lock from BEGIN."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REGISTRY_LOCK])


# An error report shows no key: the variables', or a plain one the JSON format carries.
@sensitive_variables("text", "document", "env", "available", "keys")
def read_document(text: str, *, env: Mapping[str, str] | None) -> Plan:
    """Validate the whole document (YAML, or the flat JSON format: JSON is YAML too);
    raise CatalogueError with every problem at once. `env` holds the variables key
    references may name (settings.CATALOGUE_KEY_ENV); None reads none."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise CatalogueError([TOO_BIG])
    try:
        document = yaml.load(text, Loader=yaml_loader.Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise CatalogueError([yaml_loader.problem(error)]) from None
    notes: list[str] = []
    available = dict(env or {})
    if json_format.looks_like_flat_json(document):
        document, keys, notes = json_format.from_flat_json(document)
        available |= keys
    plan = _plan(document, available, reads_env=env is not None)
    plan.notes = notes
    return plan


def decode(data: bytes) -> str:
    """A file's bytes as text: UTF-8 (a byte-order mark is allowed), within MAX_BYTES."""
    if len(data) > MAX_BYTES:
        raise CatalogueError([TOO_BIG])
    for bom, encoding in _OTHER_UNICODE:
        if data.startswith(bom):
            raise CatalogueError([f"(document): is {encoding} text; save it as UTF-8"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CatalogueError(
            [
                f"(document): is not UTF-8 text (byte 0x{data[error.start]:02x} at position "
                f"{error.start}); save it as UTF-8"
            ]
        ) from None


@sensitive_variables("document", "env", "keys", "providers")
def _plan(document: Any, env: Mapping[str, str], *, reads_env: bool) -> Plan:
    problems: list[str] = []
    if not isinstance(document, dict):
        raise CatalogueError(["(document): must be a mapping with `providers` and `tiers`"])
    for key in document.keys() - {"version", "tiers", "providers"}:
        problems.append(f"{key}: is not a known section (known: providers, tiers, version)")
    if document.get("version", VERSION) != VERSION:
        problems.append(f"version: must be {VERSION}")
    tiers = _list(document, "tiers", problems)
    providers = _list(document, "providers", problems)
    models = sum(len(checks.models_of(p)) for p in providers)
    for section, count, limit in (
        ("tiers", len(tiers), MAX_TIERS),
        ("providers", len(providers), MAX_PROVIDERS),
        ("models", models, MAX_MODELS),
    ):
        if count > limit:
            # Each entry costs a few queries to plan: a bound keeps an import to seconds.
            raise CatalogueError([f"{section}: {count} entries, more than the limit of {limit}"])
    checks.check_entries(tiers, "tiers", checks.TIER_FIELDS, problems)
    checks.check_entries(providers, "providers", checks.PROVIDER_FIELDS, problems)
    checks.check_model_entries(providers, problems)
    keys = checks.check_providers(providers, env, problems, reads_env=reads_env)
    tier_names = {t.get("name") for t in tiers if isinstance(t, dict)}
    checks.check_tiers(tiers, providers, problems)
    checks.check_fallbacks(providers, problems)
    checks.check_models(
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
        key = plan.keys.found.get(entry["name"])
        if stored and key is not None and checks.revealed_key(stored) != key:
            change.action, change.fields = "update", (*change.fields, "api_key")
        if entry["name"] in plan.keys.kept:
            change.remark = "keeps the stored key"
        changes.append(change)
        rows = (
            {
                row.model_id: row
                for row in stored.models.prefetch_related(
                    "allowed_tiers", "fallback_links__fallback__provider"
                )
            }
            if stored
            else {}
        )
        for model in entry.get("models", []):
            row = rows.get(model["model_id"])
            name = f"{entry['name']}/{model['model_id']}"
            model_change = _compare("model", name, row, _model_values(model))
            if row and sorted(t.name for t in row.allowed_tiers.all()) != sorted(
                model.get("tiers", [])
            ):
                model_change.action = "update"
                model_change.fields = (*model_change.fields, "tiers")
            if row and fallback_names(row) != model.get("fallbacks", []):
                model_change.action = "update"
                model_change.fields = (*model_change.fields, "fallbacks")
            if row and row.is_deleted != model.get("deleted", False):
                model_change.action = "update"
                model_change.fields = (*model_change.fields, "deleted")
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
    prices = entry.get("prices", {})
    gateway_name = entry.get("gateway_name", "")
    return {
        "display_name": entry.get("display_name", ""),
        # Its own id as gateway name is stored as none, as the names page stores it.
        "gateway_name": "" if gateway_name == entry["model_id"] else gateway_name,
        "enabled": entry.get("enabled", True),
        "is_default": entry.get("is_default", False),
        "settings": entry.get("settings", {}),
        **{
            field: checks.amount(prices.get(key), places=4)
            for key, field in checks.PRICE_KEYS.items()
        },
    }


def _tier_values(entry: dict) -> dict[str, Any]:
    return {
        "description": entry.get("description", ""),
        "daily_token_quota": entry.get("daily_token_quota"),
        "monthly_cost_budget": checks.amount(entry.get("monthly_cost_budget"), places=2),
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
    for n, entry in enumerate(plan.providers):
        provider = checks.provider_row(entry, plan.keys.found.get(entry["name"]))
        provider.full_clean()
        provider.save()
        LLMModel.objects.filter(provider=provider, is_default=True).exclude(
            model_id__in=[m["model_id"] for m in entry.get("models", []) if m.get("is_default")]
        ).update(is_default=False)
        stored = {m.model_id: m for m in provider.models.all()}
        _check_unlisted_names(n, entry, stored, prune=prune)
        # The listed rows give up their names first, so swaps and restores never meet the
        # unique index half way; each then takes its final name and state in one UPDATE.
        listed = [
            stored[m["model_id"]].pk for m in entry.get("models", []) if m["model_id"] in stored
        ]
        LLMModel.objects.filter(pk__in=listed).park_gateway_names()
        for item in entry.get("models", []):
            row = stored.get(item["model_id"])
            values = _model_values(item) | {"deleted_at": _deleted_at(item, row)}
            model, _ = LLMModel.objects.update_or_create(
                provider=provider,
                model_id=item["model_id"],
                defaults=values,
                create_defaults=values | {"source": ModelSource.IMPORTED},  # a row's own stays
            )
            model.allowed_tiers.set([tiers[name] for name in item.get("tiers", [])])
            models[f"{provider.name}/{model.model_id}"] = model
    for entry in plan.tiers:
        default = models.get(entry.get("default_model") or "")
        Tier.objects.filter(name=entry["name"]).update(default_model=default)
    _apply_fallbacks(plan, models)
    return applied


def _deleted_at(item: dict, row: LLMModel | None) -> datetime | None:
    if not item.get("deleted"):
        return None
    return row.deleted_at if row and row.is_deleted else timezone.now()


def _check_unlisted_names(n: int, entry: dict, stored: dict[str, LLMModel], *, prune: bool) -> None:
    """A live model the file does not list keeps its gateway name (unless pruned): a
    listed one may not take it."""
    if prune:
        return
    listed = {m["model_id"] for m in entry.get("models", [])}
    unlisted = {
        m.effective_gateway_name: m
        for model_id, m in stored.items()
        if model_id not in listed and not m.is_deleted
    }
    problems = [
        f"providers[{n}].models[{m}].gateway_name: {item['model_id']} takes the gateway name "
        f"{name}, which {holder.model_id} holds and this file does not list; list it with "
        "another name, or import with prune"
        for m, item in enumerate(entry.get("models", []))
        if not item.get("deleted")
        and (holder := unlisted.get(name := item.get("gateway_name") or item["model_id"]))
    ]
    if problems:
        raise CatalogueError(problems)


def _apply_fallbacks(plan: Plan, models: dict[str, LLMModel]) -> None:
    """Each model's fallback list as the file orders it; a model named from outside the
    file is the registry's (check_fallbacks found it)."""
    named = [
        (models[f"{entry['name']}/{item['model_id']}"], item.get("fallbacks", []))
        for entry in plan.providers
        for item in entry.get("models", [])
    ]
    Fallback.objects.filter(model__in=[model for model, _ in named]).delete()
    if not any(fallbacks for _, fallbacks in named):
        return
    # Looked up by the whole name, never split at a "/": a provider's name may hold one.
    every = {
        f"{m.provider.name}/{m.model_id}": m for m in LLMModel.objects.select_related("provider")
    }
    gone = sorted({name for _, fallbacks in named for name in fallbacks} - every.keys())
    if gone:
        # Pruned by this import, or deleted since the plan: the apply fails whole.
        raise CatalogueError(
            [f"(document): the fallback {name} is not in the registry any more" for name in gone]
        )
    Fallback.objects.bulk_create(
        Fallback(model=model, fallback=every[name], position=position)
        for model, fallbacks in named
        for position, name in enumerate(fallbacks)
    )


def _prune(plan: Plan) -> None:
    named = [entry["name"] for entry in plan.providers]
    Provider.objects.exclude(name__in=named).delete()
    for entry in plan.providers:
        ids = [model["model_id"] for model in entry.get("models", [])]
        LLMModel.objects.filter(provider__name=entry["name"]).exclude(model_id__in=ids).delete()
    Tier.objects.exclude(name__in=[entry["name"] for entry in plan.tiers]).delete()
