"""The flat JSON format some teams keep, mapped onto the catalogue document.

    {
      "default_model": "gpt-4o",
      "provider_configs": {"openai": {"base_url": "https://api.openai.com/v1",
                                      "api_key": "${OPENAI_API_KEY}"}},
      "models": [{"display_name": "GPT-4o", "model": "gpt-4o",
                  "base_url": "https://api.openai.com/v1", "api_key": "sk-…",
                  "allowed_tiers": ["pro"]}]
    }

Entries sharing a base URL become one provider (named by its provider_configs key, else
by the preset whose URL it is, else by its host); `allowed_tiers` become tiers; the
top-level default model becomes the default tier's default. The format carries keys in
plain text: they are moved out of the document into the import's environment, so the
usual validation and encryption apply. Whatever has no place is reported, not dropped
silently.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.views.decorators.debug import sensitive_variables

from providers.presets import PRESETS

ENTRY_FIELDS = {"display_name", "model", "base_url", "api_key", "allowed_tiers"}
CONFIG_FIELDS = {"base_url", "api_key"}
TOP_FIELDS = {"default_model", "provider_configs", "models", "entries"}


def looks_like_flat_json(data: Any) -> bool:
    return isinstance(data, dict) and (
        "provider_configs" in data
        or "entries" in data
        or (
            isinstance(data.get("models"), list)
            and any(isinstance(e, dict) and "model" in e for e in data["models"])
        )
    )


@sensitive_variables("data", "env")  # the format carries plain keys
def from_flat_json(data: dict) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(catalogue document, environment for its keys, notes on what could not be mapped)."""
    notes = [f"{key}: cannot be mapped (ignored)" for key in sorted(data.keys() - TOP_FIELDS)]
    env: dict[str, str] = {}
    providers: dict[str, dict[str, Any]] = {}
    by_url: dict[str, str] = {}

    def provider_for(base_url: str, name: str | None = None) -> dict[str, Any]:
        if base_url in by_url:
            return providers[by_url[base_url]]
        preset = next((p for p in PRESETS.values() if p.base_url and p.base_url == base_url), None)
        label = name or (preset.label if preset else urlsplit(base_url).hostname or base_url)
        entry = {
            "name": label,
            "preset": preset.slug if preset else "custom",
            "base_url": base_url,
            "enabled": True,
            "models": [],
        }
        providers[label] = entry
        by_url[base_url] = label
        return entry

    def keep_key(entry: dict[str, Any], key: Any, where: str) -> None:
        if not isinstance(key, str) or not key or "api_key" in entry:
            return
        if key.startswith("${"):
            entry["api_key"] = key
            return
        name = f"IMPORTED_{len(env) + 1}_API_KEY"  # named as providers/keys/variables.py asks
        env[name] = key
        entry["api_key"] = f"${{{name}}}"
        notes.append(f"{where}: a plain key was found; it is stored encrypted, never in a file")

    configs = data.get("provider_configs") or {}
    if not isinstance(configs, dict):
        notes.append("provider_configs: must be a mapping of names to configs (ignored)")
        configs = {}
    for name, config in configs.items():
        where = f"provider_configs.{name}"
        if not isinstance(config, dict) or not isinstance(config.get("base_url"), str):
            notes.append(f"{where}: needs a base_url (ignored)")
            continue
        entry = provider_for(config["base_url"], str(name))
        keep_key(entry, config.get("api_key"), f"{where}.api_key")
        notes += [
            f"{where}.{k}: cannot be mapped (ignored)"
            for k in sorted(config.keys() - CONFIG_FIELDS)
        ]

    tiers: set[str] = set()
    listed = data.get("models", data.get("entries", []))
    for n, item in enumerate(listed if isinstance(listed, list) else []):
        where = f"models[{n}]"
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item[k] for k in ("model", "base_url")
        ):
            notes.append(f"{where}: needs model and base_url, as text (ignored)")
            continue
        entry = provider_for(item["base_url"])
        keep_key(entry, item.get("api_key"), f"{where}.api_key")
        listed_tiers = item.get("allowed_tiers") or []
        allowed = (
            [t for t in listed_tiers if isinstance(t, str)]
            if isinstance(listed_tiers, list)
            else []
        )
        tiers.update(allowed)
        entry["models"].append(
            {
                "model_id": item["model"],
                "display_name": str(item.get("display_name") or ""),
                "tiers": sorted(allowed),
            }
        )
        notes += [
            f"{where}.{k}: cannot be mapped (ignored)" for k in sorted(item.keys() - ENTRY_FIELDS)
        ]

    document: dict[str, Any] = {
        "providers": list(providers.values()),
        "tiers": [{"name": name} for name in sorted(tiers)],
    }
    default = data.get("default_model")
    if default is not None and not isinstance(default, str):
        notes.append("default_model: must be a model id (ignored)")
        default = None
    owner = next(
        (p for p in providers.values() for m in p["models"] if m["model_id"] == default), None
    )
    if default and owner:
        document["tiers"].append(
            {"name": "Default", "is_default": True, "default_model": f"{owner['name']}/{default}"}
        )
    elif default:
        notes.append(f"default_model: {default} is not one of the models (ignored)")
    return document, env, notes
