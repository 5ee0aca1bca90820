"""Retries and fallbacks, end to end: the served app, the fake upstream scripting failures."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from fakes.upstream import FakeUpstream, Fault
from providers.models import Fallback, LLMModel, Tier
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession, Message
from sessions_app.tests.test_streaming import read_events, stream_url
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def models(fake_upstream: FakeUpstream) -> list[LLMModel]:
    """GPT-4o, falling back to Claude Sonnet (another provider, another protocol), then
    GPT-4o mini."""
    openai = make_fake_provider(fake_upstream)
    anthropic = make_fake_provider(fake_upstream, protocol="anthropic")
    chosen = make_model(openai, model_id="gpt-4o", display_name="GPT-4o")
    sonnet = make_model(anthropic, model_id="claude-sonnet", display_name="Claude Sonnet")
    mini = make_model(openai, model_id="gpt-4o-mini", display_name="GPT-4o mini")
    fake_upstream.models = ["gpt-4o", "claude-sonnet", "gpt-4o-mini"]
    Fallback.objects.create(model=chosen, fallback=sonnet, position=0)
    Fallback.objects.create(model=chosen, fallback=mini, position=1)
    return [chosen, sonnet, mini]


def answer_from(user: User, model: LLMModel) -> Message:
    session = ChatSession.objects.create(owner=user)
    return session.start_turn(content="Say hello", model=model)[1]


def outcomes(answer: Message) -> list[tuple[str, int, str]]:
    records = UsageRecord.objects.filter(message_id=answer.public_id).order_by("attempt")
    return [(r.model_id, r.attempt, r.outcome) for r in records]


def test_a_429_then_a_500_fall_back_to_the_third_model_and_the_chain_is_kept(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    models: list[LLMModel],
) -> None:
    fake_upstream.faults += [Fault(status=429), Fault(status=500)]
    answer = answer_from(user, models[0])

    events = read_events(stream_url(asgi_server, answer), cookies)

    answer.refresh_from_db()
    assert (answer.status, answer.content) == ("done", "Hello, world!")
    sent = [(r.protocol, r.body["model"]) for r in fake_upstream.requests]
    assert sent == [("openai", "gpt-4o"), ("anthropic", "claude-sonnet"), ("openai", "gpt-4o-mini")]
    # The tag names the model that answered; the chain, every try.
    assert (answer.llm_model, answer.model_display_name) == (models[2], "GPT-4o mini")
    assert [(a["model"], a["outcome"]) for a in answer.attempts] == [
        ("GPT-4o", "rate_limited"),
        ("Claude Sonnet", "unavailable"),
        ("GPT-4o mini", "ok"),
    ]
    assert outcomes(answer) == [
        ("gpt-4o", 1, "rate_limited"),
        ("claude-sonnet", 2, "unavailable"),
        ("gpt-4o-mini", 3, "ok"),
    ]
    sentence = "answered by GPT-4o mini after GPT-4o was rate limited and Claude Sonnet failed"
    assert sentence in events[-1][1]
    page = Client()
    page.force_login(user)
    html = page.get(answer.session.get_absolute_url()).content.decode()
    assert sentence in html
    assert "Rate limited" in html  # the chain, each try with its outcome, on demand


def test_no_switch_once_a_token_has_streamed(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    models: list[LLMModel],
) -> None:
    fake_upstream.faults.append(Fault(cut_after_tokens=1))
    answer = answer_from(user, models[0])

    read_events(stream_url(asgi_server, answer), cookies)

    answer.refresh_from_db()
    assert (answer.status, answer.content) == ("error", "Hello")
    assert "The connection closed in the middle of the answer." in answer.error
    assert len(fake_upstream.requests) == 1
    assert answer.attempts == []  # one try: no chain to show
    [record] = UsageRecord.objects.filter(message_id=answer.public_id)
    assert (record.outcome, record.tokens_estimated, record.output_tokens) == (
        "unavailable",
        True,
        2,  # "Hello", estimated at four characters a token
    )


def test_a_fallback_the_person_may_not_use_is_skipped_and_the_skip_kept(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    models: list[LLMModel],
) -> None:
    staff_only = Tier.objects.create(name="Staff", group=Group.objects.create(name="Staff"))
    models[1].allowed_tiers.set([staff_only])  # Claude Sonnet is not open to alice's tier
    fake_upstream.faults.append(Fault(status=503))
    answer = answer_from(user, models[0])

    events = read_events(stream_url(asgi_server, answer), cookies)

    answer.refresh_from_db()
    assert answer.status == "done"
    assert [r.body["model"] for r in fake_upstream.requests] == ["gpt-4o", "gpt-4o-mini"]
    assert [(a["model"], a["outcome"]) for a in answer.attempts] == [
        ("GPT-4o", "unavailable"),
        ("Claude Sonnet", "skipped"),
        ("GPT-4o mini", "ok"),
    ]
    assert "not available to your tier" in answer.attempts[1]["reason"]
    assert "after GPT-4o failed and Claude Sonnet was skipped" in events[-1][1]
    assert [o for _, _, o in outcomes(answer)] == ["unavailable", "ok"]  # a skip costs nothing


@pytest.mark.parametrize(
    ("status", "shown"),
    [(400, "The provider refused the request."), (401, "The provider rejected the API key.")],
)
def test_an_error_another_model_cannot_fix_is_shown_at_once(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    models: list[LLMModel],
    status: int,
    shown: str,
) -> None:
    fake_upstream.faults.append(Fault(status=status))
    answer = answer_from(user, models[0])

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert shown in events[-1][1]
    assert len(fake_upstream.requests) == 1
    answer.refresh_from_db()
    assert answer.status == "error"


def test_every_fallback_failing_shows_the_last_error_and_the_whole_chain(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    models: list[LLMModel],
) -> None:
    fake_upstream.faults += [Fault(status=500), Fault(status=529), Fault(status=502)]
    answer = answer_from(user, models[0])

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert "The provider failed to answer; try again later." in events[-1][1]
    assert "3 tries, none answered" in events[-1][1]
    assert len(fake_upstream.requests) == 3
    assert [o for _, _, o in outcomes(answer)] == ["unavailable"] * 3
    answer.refresh_from_db()
    # Tagged with the model chosen, not the last one tried: Retry asks it again.
    assert (answer.llm_model, answer.model_display_name) == (models[0], "GPT-4o")


# A model without fallbacks: one more try of the same model, before the first token only,
# and only after an error a moment may fix.


@pytest.fixture
def alone(fake_upstream: FakeUpstream) -> LLMModel:
    return make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


def test_a_model_without_fallbacks_is_tried_once_more_after_a_503(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    alone: LLMModel,
) -> None:
    fake_upstream.faults.append(Fault(status=503))
    answer = answer_from(user, alone)

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert 'data-status="done"' in events[-1][1]
    assert len(fake_upstream.requests) == 2
    assert outcomes(answer) == [("gpt-4o", 1, "unavailable"), ("gpt-4o", 2, "ok")]


@pytest.mark.parametrize(
    ("faults", "requests"),
    [
        ([Fault(status=500), Fault(status=502), Fault(status=500)], 2),  # only once more
        ([Fault(status=429)], 1),  # a rate limit is not over a moment later
        ([Fault(status=401)], 1),  # nor is a bad key
    ],
    ids=["two failures", "rate limited", "bad key"],
)
def test_a_model_without_fallbacks_is_not_tried_again_past_that(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    alone: LLMModel,
    faults: list[Fault],
    requests: int,
) -> None:
    fake_upstream.faults += faults
    answer = answer_from(user, alone)

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert 'data-status="error"' in events[-1][1]
    assert len(fake_upstream.requests) == requests
    assert UsageRecord.objects.filter(message_id=answer.public_id).count() == requests
