"""The built-in provider presets: what a new provider of each kind starts from.

A preset is plain data (no Django imports: config/settings.py reads it to know which
`<PRESET>_API_KEY` variables exist). Base URLs are the ones each vendor documents for
its OpenAI-compatible API, except Anthropic, whose own protocol the anthropic SDK speaks
(the SDK appends /v1/...). Starter models are a few current ones; "Fetch models"
discovers the rest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    slug: str
    label: str
    protocol: str
    base_url: str
    requires_key: bool
    key_prefix: str = ""  # the usual start of the vendor's keys; "" when it has none
    starter_models: tuple[str, ...] = ()
    allow_private_network: bool = False
    # The request field that caps output tokens: OpenAI's own API wants the newer name for
    # its reasoning models; compatible APIs mostly know only max_tokens.
    output_limit_param: str = "max_tokens"

    @property
    def key_env_var(self) -> str:
        return f"{self.slug.upper()}_API_KEY" if self.requires_key else ""


PRESETS: dict[str, Preset] = {
    preset.slug: preset
    for preset in (
        Preset(
            slug="openai",
            label="OpenAI",
            protocol="openai",
            base_url="https://api.openai.com/v1",
            requires_key=True,
            key_prefix="sk-",
            starter_models=("gpt-5.5", "gpt-5.4", "gpt-5.4-mini"),
            output_limit_param="max_completion_tokens",
        ),
        Preset(
            slug="anthropic",
            label="Anthropic",
            protocol="anthropic",
            base_url="https://api.anthropic.com",
            requires_key=True,
            key_prefix="sk-ant-",
            starter_models=("claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5"),
        ),
        Preset(
            slug="ollama",
            label="Ollama",
            protocol="openai",
            # Ollama's OpenAI-compatible endpoint: https://docs.ollama.com/openai
            base_url="http://localhost:11434/v1",
            requires_key=False,
            starter_models=("llama3.2", "qwen3", "gemma3"),
            allow_private_network=True,
        ),
        Preset(
            slug="groq",
            label="Groq",
            protocol="openai",
            base_url="https://api.groq.com/openai/v1",
            requires_key=True,
            key_prefix="gsk_",
            starter_models=(
                "llama-3.3-70b-versatile",
                "llama-3.1-8b-instant",
                "openai/gpt-oss-120b",
            ),
        ),
        Preset(
            slug="deepseek",
            label="DeepSeek",
            protocol="openai",
            base_url="https://api.deepseek.com/v1",
            requires_key=True,
            key_prefix="sk-",
            starter_models=("deepseek-chat", "deepseek-reasoner"),
        ),
        Preset(
            slug="mistral",
            label="Mistral",
            protocol="openai",
            base_url="https://api.mistral.ai/v1",
            requires_key=True,
            starter_models=(
                "mistral-large-latest",
                "mistral-small-latest",
                "codestral-latest",
            ),
        ),
        Preset(
            slug="openrouter",
            label="OpenRouter",
            protocol="openai",
            base_url="https://openrouter.ai/api/v1",
            requires_key=True,
            key_prefix="sk-or-",
            starter_models=(
                "openai/gpt-4o-mini",
                "anthropic/claude-sonnet-4.5",
                "meta-llama/llama-3.3-70b-instruct",
            ),
        ),
        Preset(
            slug="qwen",
            label="Qwen (DashScope)",
            protocol="openai",
            # DashScope "compatible mode", international endpoint; mainland China
            # accounts use https://dashscope.aliyuncs.com/compatible-mode/v1.
            base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            requires_key=True,
            key_prefix="sk-",
            starter_models=("qwen-max", "qwen-plus", "qwen-turbo"),
        ),
        Preset(
            slug="glm",
            label="GLM (Zhipu)",
            protocol="openai",
            base_url="https://open.bigmodel.cn/api/paas/v4",
            requires_key=True,
            starter_models=("glm-4.6", "glm-4.5-air", "glm-4-flash"),
        ),
        Preset(
            slug="moonshot",
            label="Moonshot (Kimi)",
            protocol="openai",
            base_url="https://api.moonshot.ai/v1",
            requires_key=True,
            key_prefix="sk-",
            starter_models=("kimi-k2-0905-preview", "moonshot-v1-32k", "moonshot-v1-8k"),
        ),
        Preset(
            slug="custom",
            label="Custom (OpenAI-compatible)",
            protocol="openai",
            base_url="",
            requires_key=False,
        ),
    )
}

BUILTIN_PRESETS = tuple(preset for preset in PRESETS.values() if preset.slug != "custom")


def key_prefix_warning(preset: Preset, key: str) -> str:
    """A sentence when `key` carries another vendor's prefix, else "".

    Several vendors share "sk-", so only the longest matching prefix says whose key it
    is; a custom provider may hold any vendor's key and is never warned about.
    """
    if preset.slug == "custom":
        return ""
    matches = [p for p in PRESETS.values() if p.key_prefix and key.startswith(p.key_prefix)]
    if not matches:
        return ""
    prefix = max(len(p.key_prefix) for p in matches)
    owners = [p for p in matches if len(p.key_prefix) == prefix]
    if preset in owners:
        return ""
    vendors = ", ".join(p.label for p in owners)
    usual = f"; {preset.label} keys start with “{preset.key_prefix}”" if preset.key_prefix else ""
    return (
        f"This key starts with “{owners[0].key_prefix}”, the prefix of {vendors} keys{usual}. "
        "Check that it is the right key."
    )
