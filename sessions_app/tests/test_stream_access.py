"""The stream asks the access service again when it starts: what changed in the registry
between Send and the stream is refused with its reason, and nothing goes upstream."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from fakes.upstream import FakeUpstream, Fault
from providers.models import LLMModel, PersonalKey, Provider, Tier
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession, Message
from sessions_app.tests import event_stream

pytestmark = pytest.mark.django_db(transaction=True)

MY_KEY = "sk-proj-FAKE.alice.own.key.00000000"


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> LLMModel:
    # A preset that needs a key, so removing the key makes the provider unusable.
    provider = make_fake_provider(fake_upstream, preset="openai")
    return make_model(provider, model_id="gpt-4o", display_name="GPT-4o")


def send(user: User, model: LLMModel) -> Message:
    return ChatSession.objects.create(owner=user).start_turn(content="Hi", model=model)[1]


def stream(asgi_server: str, reply: Message, cookies: dict[str, str]) -> list[tuple[str, str]]:
    path = reverse("sessions_app:stream", args=[reply.session.public_id, reply.public_id])
    response = httpx2.get(asgi_server + path, cookies=cookies, timeout=20)
    assert response.status_code == 200
    return event_stream.parse(response.text)


def switch_provider_off(model: LLMModel, user: User) -> None:
    Provider.objects.filter(pk=model.provider_id).update(enabled=False)


def remove_the_key(model: LLMModel, user: User) -> None:
    Provider.objects.filter(pk=model.provider_id).update(api_key="")


def switch_model_off(model: LLMModel, user: User) -> None:
    LLMModel.objects.filter(pk=model.pk).update(enabled=False)


def move_out_of_the_tier(model: LLMModel, user: User) -> None:
    research = Tier.objects.create(name="Research", group=Group.objects.create(name="Research"))
    interns = Tier.objects.create(name="Interns", group=Group.objects.create(name="Interns"))
    model.allowed_tiers.add(research)
    user.groups.add(interns.group)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (switch_provider_off, "GPT-4o cannot answer: its provider Fake OpenAI is switched off"),
        (remove_the_key, "GPT-4o cannot answer: its provider Fake OpenAI is switched off or has"),
        (switch_model_off, "GPT-4o is switched off; pick another model."),
        (move_out_of_the_tier, "GPT-4o is not available to your tier (Interns)."),
    ],
)
def test_a_change_between_send_and_the_stream_is_refused_before_upstream(
    asgi_server: str,
    user: User,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    change: Callable[[LLMModel, User], None],
    reason: str,
) -> None:
    reply = send(user, model)
    change(model, user)

    events = stream(asgi_server, reply, cookies)

    assert events[-1][0] == "done"
    assert 'data-status="error"' in events[-1][1]
    assert reason in events[-1][1]
    assert fake_upstream.requests == []
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("error", "")
    assert reason in reply.error


def test_with_nothing_changed_the_same_stream_answers(
    asgi_server: str,
    user: User,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    events = stream(asgi_server, send(user, model), cookies)

    assert 'data-status="done"' in events[-1][1]
    assert len(fake_upstream.requests) == 1


def test_a_personal_key_removed_after_send_is_not_used(
    asgi_server: str,
    user: User,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    PersonalKey.objects.create(user=user, provider=model.provider, api_key=MY_KEY)
    reply = send(user, model)
    PersonalKey.objects.filter(user=user).delete()

    stream(asgi_server, reply, cookies)

    assert [r.key for r in fake_upstream.requests] == [model.provider.api_key.reveal()]
    reply.refresh_from_db()
    assert reply.used_personal_key is False


@pytest.mark.parametrize("own_key", [True, False])
def test_a_rejected_key_says_whose_it_was(
    asgi_server: str,
    user: User,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    own_key: bool,
) -> None:
    if own_key:
        PersonalKey.objects.create(user=user, provider=model.provider, api_key=MY_KEY)
    fake_upstream.faults.append(Fault(status=401))
    reply = send(user, model)

    stream(asgi_server, reply, cookies)

    reply.refresh_from_db()
    assert reply.status == "error"
    assert reply.error.startswith("The provider rejected the API key. HTTP 401")
    assert (
        "It was your own key for this provider: replace or remove it in Settings" in reply.error
    ) is own_key
    assert MY_KEY not in reply.error
