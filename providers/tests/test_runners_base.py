"""What both runners share (runners/base.py): the translation of SDK errors."""

from __future__ import annotations

import pytest

from fakes.upstream import KEY_ECHOES, FakeUpstream, Fault
from providers.keys.redaction import WITHHELD
from providers.runners.base import Event, MalformedResponseError, ProviderError, TextDelta
from providers.tests.leaks import assert_keyless
from providers.tests.runner_support import KEY, collect, hello, target_for

pytestmark = pytest.mark.anyio

NOT_UTF8 = {
    "stray byte": b"\xff",
    "bom of utf-16": b"\xff\xfe",
    "cut multibyte": b"\xe2\x82",
    "overlong slash": b"\xc0\xaf",
    "encoded surrogate": b"\xed\xa0\x80",
    "lone continuation": b"\x80abc",
}


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("raw", NOT_UTF8.values(), ids=NOT_UTF8.keys())
async def test_bytes_not_utf8_mid_stream_are_a_malformed_response(
    fake_upstream: FakeUpstream, protocol: str, raw: bytes
) -> None:
    fake_upstream.models = ["gpt-4o"]
    fake_upstream.faults.append(Fault(invalid_utf8_after_tokens=1, invalid_utf8=raw))
    events: list[Event] = []

    with pytest.raises(MalformedResponseError) as caught:
        await collect(target_for(fake_upstream, protocol), hello("gpt-4o"), into=events)

    assert events == [TextDelta("Hello")]
    assert "UTF-8" in caught.value.description


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("echo", KEY_ECHOES)
@pytest.mark.parametrize("status", [401, 429, 500])
async def test_a_key_echoed_in_any_form_is_redacted(
    fake_upstream: FakeUpstream, protocol: str, echo: str, status: int
) -> None:
    fake_upstream.faults.append(Fault(status=status, echo_key=echo))

    with pytest.raises(ProviderError) as caught:
        await collect(target_for(fake_upstream, protocol), hello("gpt-4o"), into=[])

    assert fake_upstream.requests[0].key == KEY
    # The upstream's words are kept, unless the key is too entangled in them to cut out.
    kept = WITHHELD if echo == "spaced out" else "Scripted failure"
    for text in (caught.value.description, str(caught.value), caught.value.detail):
        assert_keyless(text, KEY, shows=kept)
    assert caught.value.__cause__ is None  # no traceback can show the SDK's unredacted error


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("echo", ["lower", "base64", "in a sentence"])
async def test_an_error_event_mid_stream_echoing_the_key_is_redacted(
    fake_upstream: FakeUpstream, protocol: str, echo: str
) -> None:
    fake_upstream.faults.append(Fault(error_event_after_tokens=1, echo_key=echo))

    with pytest.raises(ProviderError) as caught:
        await collect(target_for(fake_upstream, protocol), hello("gpt-4o"), into=[])

    assert caught.value.detail.startswith(("The server had an error", "Overloaded"))
    assert_keyless(caught.value.description, KEY, shows=caught.value.detail)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_an_event_that_never_ends_is_refused_before_it_fills_the_memory(
    fake_upstream: FakeUpstream, protocol: str
) -> None:
    fake_upstream.faults.append(Fault(endless_event_after_tokens=1))
    events: list[Event] = []

    with pytest.raises(MalformedResponseError) as caught:
        await collect(target_for(fake_upstream, protocol), hello("gpt-4o"), into=events)

    assert events == [TextDelta("Hello")]
    assert "passed 1 MiB without ending" in caught.value.description
