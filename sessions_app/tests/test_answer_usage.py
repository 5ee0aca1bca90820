"""What every answer records into usage, end to end: the served app, the fake upstream."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import httpx2
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import Fallback, LLMModel, PersonalKey, Tier
from providers.tests.factories import PERSONAL_KEY, make_fake_provider, make_model
from sessions_app.models import ChatSession, Message
from sessions_app.tests.test_streaming import (
    Reader,
    ask,
    press_stop,
    read_events,
    stream_url,
    wait_for,
)
from usage import quotas
from usage.models import QuotaCounter, UsageDay, UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

PRICES = {
    "input_price": Decimal("2.50"),
    "cached_input_price": Decimal("1.25"),
    "output_price": Decimal("10"),
}


def priced_model(upstream: FakeUpstream, protocol: str = "openai") -> LLMModel:
    provider = make_fake_provider(upstream, protocol=protocol)
    upstream.models = ["gpt-4o"]
    return make_model(provider, model_id="gpt-4o", display_name="GPT-4o", **PRICES)


def answer_from(user: User, model: LLMModel) -> Message:
    session = ChatSession.objects.create(owner=user)
    return session.start_turn(content="Say hello", model=model)[1]


def wait_for_end(answer: Message) -> Message:
    deadline = time.monotonic() + 30  # generous: the machine may be busy
    while answer.is_open:
        assert time.monotonic() < deadline, f"the answer is still {answer.status}"
        time.sleep(0.05)
        answer.refresh_from_db()
    return answer


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_answer_records_the_tokens_its_provider_reported_and_their_cost(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    protocol: str,
) -> None:
    fake_upstream.cached_tokens = 1
    answer = answer_from(user, priced_model(fake_upstream, protocol))

    events = read_events(stream_url(asgi_server, answer), cookies)

    [record] = UsageRecord.objects.all()
    # The fake counts a prompt of "Say hello" as 3 tokens and each of its 4 chunks as one;
    # Anthropic reports the cached token apart, OpenAI within its input.
    input_tokens = 3 + 1 if protocol == "anthropic" else 3
    assert (record.input_tokens, record.cached_tokens, record.output_tokens) == (
        input_tokens,
        1,
        4,
    )
    assert not record.tokens_estimated
    assert (record.outcome, record.key_kind, record.attempt) == ("ok", "team", 1)
    assert (record.username, record.model_id, record.provider_name) == (
        "alice",
        "gpt-4o",
        answer.provider_name,
    )
    assert (record.session_id, record.message_id) == (answer.session.public_id, answer.public_id)
    expected = ((input_tokens - 1) * Decimal("2.50") + Decimal("1.25") + 4 * 10) / 1_000_000
    assert (record.cost, record.currency) == (expected, "USD")
    assert record.ttft_ms is not None
    assert record.latency_ms >= record.ttft_ms
    answer.refresh_from_db()
    assert answer.cost == expected
    shown = "0.0000462 USD" if protocol == "openai" else "0.0000488 USD"
    assert f"tokens {input_tokens} in / 4 out · {shown}" in events[-1][1]
    assert f"first token {answer.ttft_ms} ms · total {answer.latency_ms} ms" in events[-1][1]


def test_the_cost_is_kept_as_it_was_when_prices_change_later(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    model = priced_model(fake_upstream)
    answer = answer_from(user, model)
    read_events(stream_url(asgi_server, answer), cookies)
    cost = UsageRecord.objects.get().cost

    LLMModel.objects.filter(pk=model.pk).update(input_price=99, output_price=99)

    assert UsageRecord.objects.get().cost == cost
    answer.refresh_from_db()
    assert answer.cost == cost


def test_a_provider_that_reports_no_usage_gets_estimates_marked_as_such(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reports_usage = False
    answer = answer_from(user, priced_model(fake_upstream))

    read_events(stream_url(asgi_server, answer), cookies)

    record = UsageRecord.objects.get()
    # Four characters a token, plus one: "Say hello" is 3, "Hello, world!" 4.
    assert (record.input_tokens, record.output_tokens, record.tokens_estimated) == (3, 4, True)
    answer.refresh_from_db()
    assert (answer.input_tokens, answer.output_tokens) == (None, None)  # the audit tells no guess
    assert answer.cost == record.cost


def test_a_stopped_answer_records_the_tokens_that_arrived(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))  # "Hello", ","
    answer = answer_from(user, priced_model(fake_upstream))
    reader = Reader(stream_url(asgi_server, answer), cookies)
    reader.wait_for_deltas(2)

    press_stop(asgi_server, answer, cookies)

    gate.wait_hung_up()
    reader.finish()
    record = UsageRecord.objects.get()
    assert (record.outcome, record.output_tokens, record.tokens_estimated) == ("stopped", 2, True)


def test_a_failed_answer_is_recorded_with_its_error(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.faults.append(Fault(status=401))
    answer = answer_from(user, priced_model(fake_upstream))

    read_events(stream_url(asgi_server, answer), cookies)

    record = UsageRecord.objects.get()
    assert (record.outcome, record.input_tokens, record.output_tokens) == ("bad_key", 0, 0)
    assert not record.tokens_estimated
    assert record.cost == 0


def test_an_answer_whose_tab_closed_is_recorded_when_it_ends(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    answer = answer_from(user, priced_model(fake_upstream))
    with httpx2.stream("GET", stream_url(asgi_server, answer), cookies=cookies) as response:
        for line in response.iter_lines():
            if line == "data: Hello":
                break  # the tab closes after the first token
    gate.open()

    wait_for(answer, "done")

    record = UsageRecord.objects.get()
    assert (record.outcome, record.output_tokens, record.tokens_estimated) == ("ok", 4, False)


def test_an_answer_on_a_personal_key_is_recorded_apart_and_counts_against_no_quota(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    model = priced_model(fake_upstream)
    fake_upstream.api_key = PERSONAL_KEY
    PersonalKey.objects.create(user=user, provider=model.provider, api_key=fake_upstream.api_key)
    answer = answer_from(user, model)

    read_events(stream_url(asgi_server, answer), cookies)

    record = UsageRecord.objects.get()
    assert (record.key_kind, record.outcome) == ("personal", "ok")
    assert not QuotaCounter.objects.filter(tokens__gt=0).exists()


def test_the_team_key_answers_count_against_the_day_and_the_month(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    answer = answer_from(user, priced_model(fake_upstream))

    read_events(stream_url(asgi_server, answer), cookies)

    record = UsageRecord.objects.get()
    counters = {c.period: (c.tokens, c.cost) for c in QuotaCounter.objects.filter(user=user)}
    # The reservation made before the call is replaced by what the answer used.
    assert counters == {
        "day": (record.total_tokens, record.cost),
        "month": (record.total_tokens, record.cost),
    }
    day = UsageDay.objects.get()  # the record, added to its day's totals
    assert (day.username, day.model_id, day.key_kind, day.tries, day.answered) == (
        "alice",
        "gpt-4o",
        "team",
        1,
        1,
    )
    assert (day.input_tokens, day.output_tokens, day.cost) == (3, 4, record.cost)


def test_an_answer_with_no_price_shows_no_cost(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")
    answer = answer_from(user, model)

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert UsageRecord.objects.get().cost is None
    assert "USD" not in events[-1][1]
    page = Client()
    page.force_login(user)
    assert "USD" not in page.get(answer.session.get_absolute_url()).content.decode()


def test_two_messages_sent_at_once_to_two_servers_cannot_both_pass_the_last_of_a_quota(
    asgi_server: str,
    second_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    model = priced_model(fake_upstream)
    Tier.objects.create(name="Everyone", is_default=True, daily_token_quota=1_000)
    quotas.reserve(user.pk, list(Tier.objects.all()), tokens=990, cost=Decimal(0))
    sessions = [ChatSession.objects.create(owner=user) for _ in range(2)]
    # The winner's answer waits upstream, its reservation standing, until both are sent:
    # without it, an answer that finished first would free the quota for the other.
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate))
    together = threading.Barrier(2)
    refused_at_send: list[str] = []

    def send(server: str, session: ChatSession) -> None:
        together.wait()
        try:
            ask(server, session, model, cookies)
        except AssertionError as refusal:  # the composer came back: no stream to open
            refused_at_send.append(str(refusal))

    threads = [
        threading.Thread(target=send, args=pair)
        for pair in zip([asgi_server, second_server], sessions, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    gate.open()

    # Which one loses depends on who gets there first, and where: Send's own check
    # (when the winner has already reserved), or the claim (when both passed Send).
    answers = Message.objects.filter(session__in=sessions, role="assistant")
    ended = [wait_for_end(answer) for answer in answers]
    refusals = [a.error for a in ended if a.status == "error"] + refused_at_send
    assert [a.status for a in ended].count("done") == 1
    assert len(refusals) == 1
    assert "Your daily token quota (tier Everyone) is used up" in refusals[0]
    assert len(fake_upstream.requests) == 1  # the refused one never went upstream
    assert UsageRecord.objects.count() == 1


def test_a_message_past_the_quota_is_refused_in_the_composer_and_kept(
    user: User, fake_upstream: FakeUpstream
) -> None:
    model = priced_model(fake_upstream)
    Tier.objects.create(name="Everyone", is_default=True, daily_token_quota=100)
    quotas.reserve(user.pk, list(Tier.objects.all()), tokens=100, cost=Decimal(0))
    session = ChatSession.objects.create(owner=user)
    page = Client()
    page.force_login(user)

    response = page.post(
        reverse("sessions_app:send", args=[session.public_id]),
        {"content": "One more question", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert "Your daily token quota (tier Everyone) is used up: 100 of 100 tokens today." in html
    assert "One more question" in html  # the composer keeps the text
    assert not session.messages.exists()
    assert fake_upstream.requests == []


def test_a_fallback_on_the_teams_key_after_a_personal_key_counts_against_the_quota(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    own = priced_model(fake_upstream)
    PersonalKey.objects.create(user=user, provider=own.provider, api_key=PERSONAL_KEY)
    team = make_fake_provider(fake_upstream, protocol="anthropic")
    fallback = make_model(team, model_id="claude-sonnet", display_name="Claude Sonnet")
    fake_upstream.models = ["gpt-4o", "claude-sonnet"]
    Fallback.objects.create(model=own, fallback=fallback)
    fake_upstream.faults.append(Fault(status=429))  # the person's own key is out of credit
    answer = answer_from(user, own)

    read_events(stream_url(asgi_server, answer), cookies)

    kinds = list(UsageRecord.objects.order_by("attempt").values_list("key_kind", "outcome"))
    assert kinds == [("personal", "rate_limited"), ("team", "ok")]
    team_tokens = UsageRecord.objects.get(key_kind="team").total_tokens
    assert QuotaCounter.objects.get(user=user, period="day").tokens == team_tokens


def test_a_provider_deleted_while_it_answers_leaves_the_answer_and_its_record_by_name(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    model = priced_model(fake_upstream)
    answer = answer_from(user, model)
    reader = Reader(stream_url(asgi_server, answer), cookies)
    reader.wait_for_deltas(1)

    model.provider.delete()  # an admin, mid-answer
    gate.open()

    assert reader.finish()[-1][0] == "done"
    answer.refresh_from_db()
    assert (answer.status, answer.content, answer.llm_model) == ("done", "Hello, world!", None)
    assert answer.provider_name == "Fake OpenAI"
    record = UsageRecord.objects.get()
    assert (record.provider, record.llm_model, record.provider_name) == (None, None, "Fake OpenAI")
