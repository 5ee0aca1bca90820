"""What both runners share (runners/base.py): the translation of SDK errors."""

from __future__ import annotations

import pytest

from fakes.upstream import FakeUpstream, Fault
from providers.runners.base import Event, MalformedResponseError, TextDelta
from providers.tests.runner_support import collect, hello, target_for

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
