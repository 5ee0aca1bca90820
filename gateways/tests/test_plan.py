"""The split plan on the shapes a catalogue takes: pure values in, groups out."""

from __future__ import annotations

import random

from gateways.plan import GROUP_NAME, Offer, build, gptload_upstream, group_name

OPENAI = "https://api.openai.com/v1"
DEEPSEEK = "https://api.deepseek.com/v1"
OPENROUTER = "https://openrouter.ai/api/v1"
GROQ = "https://api.groq.com/openai/v1"
ANTHROPIC = "https://api.anthropic.com"
GLM = "https://open.bigmodel.cn/api/paas/v4"


def offer(provider: str, model_id: str, name: str = "", *, base: str = OPENAI, protocol="openai"):
    return Offer(provider, protocol, base, model_id, name or model_id)


def by_name(plan):
    return {group.name: group for group in plan.groups}


def test_one_provider_keeps_every_name_in_its_main_group_with_identity_rules():
    plan = build([offer("OpenAI", "gpt-4o"), offer("OpenAI", "gpt-4.1-mini", "fast")])

    (group,) = plan.groups
    assert (group.name, group.kind, group.provider) == ("openai", "standard", "OpenAI")
    assert group.redirects == (("fast", "gpt-4.1-mini"), ("gpt-4o", "gpt-4o"))
    assert (group.upstream, group.validation_endpoint, group.channel_type) == (
        "https://api.openai.com",
        "",
        "openai",
    )
    assert group.test_model == "gpt-4.1-mini"
    assert plan.shared == {}
    assert plan.notes == ()


def test_a_name_on_two_providers_splits_into_one_group_each_and_an_aggregate():
    plan = build(
        [
            offer("DeepSeek", "deepseek-chat", base=DEEPSEEK),
            offer("DeepSeek", "deepseek-reasoner", base=DEEPSEEK),
            offer("OpenRouter", "deepseek/deepseek-chat", "deepseek-chat", base=OPENROUTER),
        ]
    )

    groups = by_name(plan)
    assert list(groups) == [
        "deepseek",
        "deepseek-1-deepseek-chat",
        "openrouter-2-deepseek-chat",
        "deepseek-chat",
    ]
    assert groups["deepseek"].redirects == (("deepseek-reasoner", "deepseek-reasoner"),)
    assert groups["deepseek-1-deepseek-chat"].redirects == (("deepseek-chat", "deepseek-chat"),)
    assert groups["openrouter-2-deepseek-chat"].redirects == (
        ("deepseek-chat", "deepseek/deepseek-chat"),
    )
    assert groups["openrouter-2-deepseek-chat"].upstream == "https://openrouter.ai/api"
    aggregate = groups["deepseek-chat"]
    assert (aggregate.kind, aggregate.redirects, aggregate.serves) == (
        "aggregate",
        (),
        "deepseek-chat",
    )
    assert aggregate.members == ("deepseek-1-deepseek-chat", "openrouter-2-deepseek-chat")
    assert plan.shared == {"deepseek-chat": ("DeepSeek", "OpenRouter")}
    weights = [m["weight"] for m in plan.as_dict()["groups"][-1]["members"]]
    assert weights == [1, 1]


def test_a_name_on_three_providers_numbers_them_in_name_order():
    plan = build(
        [
            offer("Groq", "llama-3.3-70b-versatile", "llama-3.3-70b", base=GROQ),
            offer("OpenRouter", "meta-llama/llama-3.3-70b-instruct", "llama-3.3-70b"),
            offer("DeepInfra", "meta-llama/Llama-3.3-70B-Instruct", "llama-3.3-70b"),
        ]
    )

    aggregate = by_name(plan)["llama-3-3-70b"]
    assert aggregate.members == (
        "deepinfra-1-llama-3-3-70b",
        "groq-2-llama-3-3-70b",
        "openrouter-3-llama-3-3-70b",
    )
    assert [g.kind for g in plan.groups] == ["standard"] * 3 + ["aggregate"]


def test_a_name_over_both_protocols_is_never_joined_across_them():
    plan = build(
        [
            offer("Anthropic", "claude-sonnet-4", base=ANTHROPIC, protocol="anthropic"),
            offer(
                "Bedrock", "claude-sonnet-4", base="https://bedrock.example", protocol="anthropic"
            ),
            offer("OpenRouter", "anthropic/claude-sonnet-4", "claude-sonnet-4", base=OPENROUTER),
        ]
    )

    groups = by_name(plan)
    aggregate = groups["claude-sonnet-4-anthropic"]
    assert aggregate.channel_type == "anthropic"
    assert {groups[m].channel_type for m in aggregate.members} == {"anthropic"}
    # Alone on its channel, OpenRouter keeps the name in its main group.
    assert groups["openrouter"].redirects == (("claude-sonnet-4", "anthropic/claude-sonnet-4"),)
    assert [g.name for g in plan.groups if g.kind == "aggregate"] == ["claude-sonnet-4-anthropic"]
    (note,) = plan.notes
    assert "claude-sonnet-4" in note
    assert "OpenRouter" in note
    assert "uni-api" in note


def test_an_openai_base_off_v1_is_its_own_channel():
    # GLM's base ends in /v4: GPT-Load checks its keys on another path, which an aggregate
    # cannot mix with groups on the default one.
    plan = build(
        [offer("GLM", "glm-4-plus", base=GLM), offer("OpenRouter", "z-ai/glm-4-plus", "glm-4-plus")]
    )

    groups = by_name(plan)
    assert groups["glm"].validation_endpoint == "/chat/completions"
    assert groups["glm"].upstream == GLM
    assert all(g.kind == "standard" for g in plan.groups)
    assert len(plan.notes) == 1


def test_names_that_sanitize_alike_get_unique_group_names():
    plan = build(
        [
            offer("A", "llama3.1"),
            offer("B", "llama3.1"),
            offer("A", "llama3-1"),
            offer("B", "llama3-1"),
            offer("Open AI", "x"),
            offer("open.ai", "y"),
        ]
    )

    names = [g.name for g in plan.groups]
    assert len(names) == len(set(names))
    assert {"open-ai", "open-ai-2", "llama3-1", "llama3-1-2"} <= set(names)
    assert all(GROUP_NAME.fullmatch(n) for n in names)


def test_names_over_100_characters_are_truncated_then_made_unique():
    long = "m" * 150
    plan = build(
        [
            offer("P" * 120, long + "a", long),
            offer("P" * 120 + "Q", long + "b", long),
            offer("Q", long + "a", long + "x"),
            offer("R", long + "a", long + "x"),
        ]
    )

    names = [g.name for g in plan.groups]
    assert all(GROUP_NAME.fullmatch(n) for n in names), names
    assert len(names) == len(set(names))
    assert "p" * 100 in names
    assert "p" * 98 + "-2" in names
    aggregates = [g for g in plan.groups if g.kind == "aggregate"]
    assert {a.name for a in aggregates} == {"m" * 100, "m" * 98 + "-2"}


def test_a_renamed_model_is_served_by_its_gateway_name_and_reset_by_its_id():
    renamed = build([offer("OpenRouter", "deepseek/deepseek-chat", "deepseek-chat")])
    reset = build([offer("OpenRouter", "deepseek/deepseek-chat")])

    assert renamed.groups[0].redirects == (("deepseek-chat", "deepseek/deepseek-chat"),)
    assert reset.groups[0].redirects == (("deepseek/deepseek-chat", "deepseek/deepseek-chat"),)


def test_a_rename_that_makes_a_name_shared_splits_it():
    before = build([offer("A", "x1", "x"), offer("B", "x2")])
    after = build([offer("A", "x1", "x"), offer("B", "x2", "x")])

    assert [g.name for g in before.groups] == ["a", "b"]
    assert [g.name for g in after.groups] == ["a-1-x", "b-2-x", "x"]


def test_an_empty_catalogue_plans_no_groups():
    plan = build([])

    assert plan.as_dict() == {"groups": [], "shared": {}, "notes": []}


def test_the_same_catalogue_in_any_order_gives_the_same_plan():
    offers = [
        offer("DeepSeek", "deepseek-chat", base=DEEPSEEK),
        offer("OpenRouter", "deepseek/deepseek-chat", "deepseek-chat", base=OPENROUTER),
        offer("OpenRouter", "openai/gpt-4o", "gpt-4o", base=OPENROUTER),
        offer("OpenAI", "gpt-4o"),
        offer("OpenAI", "o3"),
        offer("Anthropic", "claude-sonnet-4", base=ANTHROPIC, protocol="anthropic"),
    ]
    first = build(offers).as_dict()
    for seed in range(20):
        shuffled = offers[:]
        random.Random(seed).shuffle(shuffled)  # noqa: S311 - an order, not a secret
        assert build(shuffled).as_dict() == first


def test_a_provider_whose_every_name_is_shared_has_no_main_group():
    plan = build([offer("A", "x"), offer("B", "x"), offer("B", "y")])

    assert "a" not in by_name(plan)
    assert by_name(plan)["b"].redirects == (("y", "y"),)


def test_group_names_follow_gptloads_rule():
    assert group_name("DeepSeek/DeepSeek-Chat:free v2.5") == "deepseek-deepseek-chat-free-v2-5"
    assert group_name("--a__b--") == "a__b"
    assert group_name("中文") == "group"


def test_upstreams_drop_v1_where_the_client_path_brings_it():
    assert gptload_upstream("openai", "https://api.openai.com/v1/") == (
        "https://api.openai.com",
        "",
    )
    assert gptload_upstream("anthropic", ANTHROPIC) == (ANTHROPIC, "")
    assert gptload_upstream("openai", GLM) == (GLM, "/chat/completions")
