"""The GPT-Load client against the fake: what it sends, how it reads the envelope, and that
a refusal is a readable error with no secret in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from fakes.gptload import FakeGPTLoad, GPTLoadFault, serving
from gateways.gptload import GPTLoad, GPTLoadError, NotGPTLoadV1Error
from providers.tests.factories import OPENAI_KEY
from providers.tests.leaks import assert_keyless


def run(fake: FakeGPTLoad, work: Callable[[GPTLoad], Awaitable[Any]], *, key: str = "") -> Any:
    async def session() -> Any:
        async with GPTLoad(fake.url, key or fake.auth_key, allow_private_network=True) as client:
            return await work(client)

    return async_to_sync(session)()


STANDARD = {
    "name": "openrouter",
    "channel_type": "openai",
    "test_model": "deepseek/deepseek-chat",
    "upstreams": [{"url": "https://openrouter.ai/api", "weight": 1}],
    "model_redirect_rules": {"deepseek-chat": "deepseek/deepseek-chat"},
    "model_redirect_strict": True,
}


def test_a_v1_server_passes_the_version_check(fake_gptload: FakeGPTLoad) -> None:
    run(fake_gptload, lambda c: c.check_version())


def test_a_v2_server_is_refused_by_name() -> None:
    with serving(FakeGPTLoad(version="v2")) as fake, pytest.raises(NotGPTLoadV1Error) as refused:
        run(fake, lambda c: c.check_version())

    assert "answers as GPT-Load v2" in refused.value.user_message


def test_a_wrong_auth_key_says_so(fake_gptload: FakeGPTLoad) -> None:
    with pytest.raises(GPTLoadError, match="refused the auth key"):
        run(fake_gptload, lambda c: c.check_version(), key="not-the-key")


def test_groups_are_created_listed_updated_and_deleted(fake_gptload: FakeGPTLoad) -> None:
    async def work(client: GPTLoad) -> Any:
        made = await client.create_group(STANDARD)
        await client.update_group(
            made.id, {"model_redirect_rules": {"ds": "deepseek/deepseek-chat"}}
        )
        listed = await client.groups()
        await client.delete_group(made.id)
        return made, listed, await client.groups()

    made, listed, after = run(fake_gptload, work)

    assert (made.name, made.strict, made.upstreams) == (
        "openrouter",
        True,
        (("https://openrouter.ai/api", 1),),
    )
    assert listed[0].redirects == {"ds": "deepseek/deepseek-chat"}
    assert after == []
    assert {c.path for c in fake_gptload.calls if c.path.endswith("/")} == set()  # no slashes


def test_a_refusal_names_the_call_and_gptloads_reason(fake_gptload: FakeGPTLoad) -> None:
    with pytest.raises(GPTLoadError) as refused:
        run(fake_gptload, lambda c: c.create_group(STANDARD | {"name": "Open.Router"}))

    assert refused.value.user_message.startswith(
        "GPT-Load could not create group Open.Router: Invalid group name."
    )
    assert refused.value.code == "VALIDATION_FAILED"
    assert refused.value.status == 400


def test_a_duplicate_is_a_409_the_caller_can_tell(fake_gptload: FakeGPTLoad) -> None:
    fake_gptload.add_group(name="openrouter", channel_type="openai", test_model="x")

    with pytest.raises(GPTLoadError) as refused:
        run(fake_gptload, lambda c: c.create_group(STANDARD))

    assert (refused.value.status, refused.value.code) == (409, "DUPLICATE_RESOURCE")


def test_aggregates_get_members_weights_and_removals(fake_gptload: FakeGPTLoad) -> None:
    async def work(client: GPTLoad) -> Any:
        a = await client.create_group(STANDARD | {"name": "a"})
        b = await client.create_group(STANDARD | {"name": "b"})
        aggregate = await client.create_group(
            {"name": "deepseek-chat", "group_type": "aggregate", "channel_type": "openai"}
        )
        await client.add_members(aggregate.id, {a.id: 1, b.id: 1})
        await client.set_weight(aggregate.id, b.id, 3)
        before = await client.members(aggregate.id)
        await client.remove_member(aggregate.id, a.id)
        return a, b, before, await client.members(aggregate.id)

    a, b, before, after = run(fake_gptload, work)

    assert before == {a.id: 1, b.id: 3}
    assert after == {b.id: 3}


def test_keys_go_in_batches_and_never_into_a_message(fake_gptload: FakeGPTLoad) -> None:
    keys = [f"{OPENAI_KEY}-{n}" for n in range(2500)]

    async def work(client: GPTLoad) -> int:
        group = await client.create_group(STANDARD)
        return await client.add_keys(group.id, keys)

    assert run(fake_gptload, work) == 2500
    posts = [c for c in fake_gptload.calls if c.path == "/api/keys/add-multiple"]
    assert len(posts) == 3  # 1,000 a call

    fake_gptload.faults.append(
        GPTLoadFault(status=400, code="VALIDATION_FAILED", message=f"bad key {OPENAI_KEY.upper()}")
    )
    with pytest.raises(GPTLoadError) as refused:
        run(fake_gptload, lambda c: c.add_keys(1, [OPENAI_KEY]))
    assert_keyless(refused.value.user_message, OPENAI_KEY, shows="bad key")


def test_an_answer_that_is_not_the_api_is_named_not_parsed(fake_gptload: FakeGPTLoad) -> None:
    fake_gptload.faults.append(GPTLoadFault(status=502, body=b"<html>Bad Gateway</html>"))

    with pytest.raises(GPTLoadError, match="HTTP 502 with an answer that is not its API's"):
        run(fake_gptload, lambda c: c.groups())


def test_an_unreachable_server_is_one_sentence() -> None:
    with serving(FakeGPTLoad()) as fake:
        url = fake.url
    with pytest.raises(GPTLoadError, match="cannot be reached"):
        run(FakeGPTLoad(url=url), lambda c: c.groups())
