"""uni-api's api.yaml: what the sync writes with and without GPT-Load, the tier keys, the
loader's rules it is checked against, the atomic write, and the check against a running
uni-api (the fake reads the file as uni-api does)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from fakes.gptload import FakeGPTLoad
from fakes.uniapi import FakeUniApi, serving
from gateways import runs, sync, uniapi
from gateways.models import GPTLoadInstance, SyncStatus, TierKey, UniApiTarget
from gateways.plan import Offer, build
from providers.models import LLMModel, Provider
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    OPENROUTER_KEY,
    make_model,
    make_tier,
)
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(tmp_path: Path) -> UniApiTarget:
    made = UniApiTarget(path=str(tmp_path / "api.yaml"))
    made.save()
    return made


def synced(target: str = "uniapi", *, dry_run: bool = False):
    return sync.perform(runs.begin(target=target, dry_run=dry_run, user=None))


def written(target: UniApiTarget) -> dict:
    return yaml.safe_load(Path(target.path).read_text())


def test_without_gptload_each_provider_is_reached_at_its_own_api_with_its_key(
    target: UniApiTarget, catalogue: None
) -> None:
    run = synced()

    assert (run.status, run.error) == (SyncStatus.SUCCEEDED, "")
    providers = {p["provider"]: p for p in written(target)["providers"]}
    assert providers["openai"] == {
        "provider": "openai",
        "base_url": "https://api.openai.com/v1/chat/completions",
        "model": [{"gpt-4.1-mini": "fast"}, "gpt-4o"],
        "api": OPENAI_KEY,
    }
    assert providers["openrouter"]["model"] == [
        {"deepseek/deepseek-chat": "deepseek-chat"},
        {"openai/gpt-4o": "gpt-4o"},
    ]
    assert providers["anthropic"]["base_url"] == "https://api.anthropic.com/v1/messages"
    assert providers["anthropic"]["engine"] == "claude"
    assert providers["anthropic"]["api"] == ANTHROPIC_KEY
    assert stat.S_IMODE(Path(target.path).stat().st_mode) == 0o600
    assert [c["action"] for c in run.changes] == ["write"]


def test_with_gptload_each_group_clients_call_is_a_provider_through_its_proxy(
    target: UniApiTarget, catalogue: None, fake_gptload: FakeGPTLoad
) -> None:
    gptload = GPTLoadInstance(url=fake_gptload.url, auth_key=fake_gptload.auth_key)
    gptload.save()

    run = synced("all")

    assert run.status == SyncStatus.SUCCEEDED
    providers = {p["provider"]: p for p in written(target)["providers"]}
    assert set(providers) == {"openai", "openrouter", "anthropic", "gpt-4o"}  # no members
    proxy = f"{fake_gptload.url}/proxy"
    assert providers["gpt-4o"]["base_url"] == f"{proxy}/gpt-4o/v1/chat/completions"
    assert providers["gpt-4o"]["model"] == ["gpt-4o"]
    assert providers["openai"]["model"] == ["fast"]  # GPT-Load redirects it
    assert providers["anthropic"]["base_url"] == f"{proxy}/anthropic/v1/messages"
    assert providers["anthropic"]["engine"] == "claude"
    assert {p["api"] for p in providers.values()} == {gptload.proxy_key.reveal()}
    assert {g["name"] for g in fake_gptload.groups.values()} >= set(providers)
    assert [c["gateway"] for c in run.changes].count("uniapi") == 1


def test_each_tier_gets_a_key_limited_to_its_names_and_the_admin_key_may_use_all(
    target: UniApiTarget, catalogue: None
) -> None:
    openrouter = Provider.objects.get(name="OpenRouter")
    make_model(openrouter, model_id="qwen/qwen-2.5-72b")  # a gateway name with a slash
    staff_tier, free = make_tier("Staff"), make_tier("Free")
    for model in LLMModel.objects.exclude(model_id="gpt-4.1-mini"):
        model.allowed_tiers.add(staff_tier)
    LLMModel.objects.get(model_id="gpt-4.1-mini").allowed_tiers.add(free)

    synced()

    keys = {k["role"]: k for k in written(target)["api_keys"]}
    assert keys["admin"]["model"] == ["all"]
    assert keys["admin"]["api"] == target.admin_key.reveal()
    assert keys["tier-free"]["model"] == ["fast"]
    assert keys["tier-staff"]["model"] == [
        "claude-sonnet-4",
        "deepseek-chat",
        "gpt-4o",
        "<qwen/qwen-2.5-72b>",  # bare, uni-api would read a provider named qwen
    ]
    assert keys["tier-free"]["api"] == TierKey.objects.get(tier=free).api_key.reveal()


def test_a_sync_of_an_unchanged_catalogue_leaves_the_file_alone(
    target: UniApiTarget, catalogue: None
) -> None:
    synced()
    first = Path(target.path).stat().st_mtime_ns
    keys = list(TierKey.objects.values_list("api_key", flat=True))

    again = synced()

    assert (again.status, again.changes) == (SyncStatus.SUCCEEDED, [])
    assert Path(target.path).stat().st_mtime_ns == first
    assert list(TierKey.objects.values_list("api_key", flat=True)) == keys  # made once


def test_a_dry_run_writes_no_file(target: UniApiTarget, catalogue: None) -> None:
    run = synced(dry_run=True)

    assert run.status == SyncStatus.SUCCEEDED
    assert [c["action"] for c in run.changes] == ["write"]
    assert not Path(target.path).exists()


def test_a_missing_folder_fails_the_run_saying_which(catalogue: None, tmp_path: Path) -> None:
    UniApiTarget(path=str(tmp_path / "nowhere" / "api.yaml")).save()

    run = synced()

    assert run.status == SyncStatus.FAILED
    assert f"The folder {tmp_path / 'nowhere'} does not exist" in run.error


def test_the_running_uni_api_is_checked_to_list_each_tier_s_names(
    target: UniApiTarget, catalogue: None
) -> None:
    make_tier("Everyone")
    with serving(FakeUniApi(Path(target.path))) as fake:
        UniApiTarget.objects.update(url=fake.url)

        run = synced()

    assert (run.status, run.error) == (SyncStatus.SUCCEEDED, "")


def test_a_uni_api_listing_other_models_fails_the_check_naming_them(
    target: UniApiTarget, catalogue: None, tmp_path: Path
) -> None:
    make_tier("Everyone")
    stale = tmp_path / "stale.yaml"  # a uni-api that still serves an older file
    stale.write_text("providers: []\napi_keys: []\n")
    with serving(FakeUniApi(stale)) as fake:
        UniApiTarget.objects.update(url=fake.url)

        run = synced()

    assert run.status == SyncStatus.FAILED
    assert "api.yaml was written, but uni-api does not list tier-everyone's models" in run.error
    assert "HTTP 403" in run.error
    for key in (OPENAI_KEY, OPENROUTER_KEY, ANTHROPIC_KEY, target.admin_key.reveal()):
        assert_keyless(run.error, key)


def test_the_preview_masks_every_key(target: UniApiTarget, catalogue: None) -> None:
    make_tier("Everyone")
    config, clients = sync.api_yaml(target, None)

    preview = uniapi.preview(config)

    for key in (OPENAI_KEY, OPENROUTER_KEY, ANTHROPIC_KEY, target.admin_key.reveal()):
        assert_keyless(preview, key, shows="providers")
    assert_keyless(preview, clients[0].key)


OPENAI = "https://api.openai.com/v1"


@pytest.mark.parametrize(
    "offers",
    [
        [Offer("OpenAI", "openai", OPENAI, "gpt-4o", "gpt-4o")],
        [Offer("Numbers", "openai", OPENAI, "2024", "1.5")],  # YAML would read them as numbers
        [Offer("Odd", "openai", OPENAI, "m", "yes"), Offer("Odd", "openai", OPENAI, "n", "null")],
        [Offer("Vendor", "openai", OPENAI, "a/b:free", "a/b:free@v1+x")],
        [Offer("GLM", "openai", "https://open.bigmodel.cn/api/paas/v4", "glm-4", "glm-4")],
        [
            Offer("A", "anthropic", "https://api.anthropic.com", "claude-x", "shared"),
            Offer("B", "openai", OPENAI, "gpt-x", "shared"),
            Offer("C", "openai", OPENAI, "gpt-y", "shared"),
        ],
    ],
)
@pytest.mark.parametrize("through_gptload", [False, True])
def test_catalogue_shapes_give_a_file_uni_api_loads_as_meant(
    offers: list[Offer], through_gptload: bool
) -> None:
    upstreams = {
        o.provider: uniapi.Upstream(o.provider, o.protocol, o.base_url, "") for o in offers
    }
    names = tuple(sorted({o.gateway_name for o in offers}))
    config = uniapi.build(
        build(offers),
        offers,
        upstreams=upstreams,
        gptload=uniapi.ThroughGPTLoad("http://gpt-load:3001", "sk-proxy")
        if through_gptload
        else None,
        clients=[uniapi.ClientKey("tier-all", "sk-tier", names)],
        preferences={},
    )

    text = uniapi.render(config)

    assert yaml.safe_load(text) == config  # every value reads back as the string it is
    served = set()
    for provider in config["providers"]:
        assert provider["model"], provider
        served |= {m if isinstance(m, str) else next(iter(m.values())) for m in provider["model"]}
    assert served == set(names)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"providers": [], "api_keys": []}, "no provider"),
        (
            {
                "providers": [
                    {"provider": "p", "base_url": "https://x/v1/chat/completions", "model": []}
                ]
            },
            "lists no model: uni-api would drop it",
        ),
        (
            {
                "providers": [{"provider": "p", "base_url": "https://x", "model": ["a/b"]}],
                "api_keys": [{"api": "k", "role": "t", "model": ["a/b"]}],
            },
            "a/b would be read as provider/model",
        ),
        (
            {
                "providers": [{"provider": "p", "base_url": "https://x", "model": ["a"]}],
                "api_keys": [{"api": "k", "role": "t"}],
            },
            "no model list; uni-api would let it use every model",
        ),
        (
            {
                "providers": [{"provider": "p", "base_url": "https://x", "model": ["a"]}],
                "api_keys": [{"api": "k", "role": "t", "model": ["b"]}],
            },
            "no provider serves b",
        ),
        (
            {
                "providers": [
                    {"provider": "p", "base_url": "https://x", "model": ["a"]},
                    {"provider": "p", "base_url": "https://y", "model": ["a"]},
                ]
            },
            "two providers are named p",
        ),
    ],
)
def test_a_file_uni_api_would_load_otherwise_than_meant_is_refused(config: dict, says: str) -> None:
    with pytest.raises(uniapi.ApiYamlError, match=says):
        uniapi.check(config)
