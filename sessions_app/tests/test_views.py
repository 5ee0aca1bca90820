"""The chat pages through Django's test client: forms, scoping, CSRF."""

from __future__ import annotations

import io
import uuid
from functools import partial

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fakes.upstream import FakeUpstream
from providers import access
from providers.models import LLMModel, Provider
from providers.tests.concurrency import race, statement
from providers.tests.factories import make_catalogue, make_fake_provider, make_model
from sessions_app.forms import RECENT_MODELS
from sessions_app.models import ChatSession, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> LLMModel:
    return make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_the_chat_page_has_the_labelled_composer(alice: Client, model: LLMModel) -> None:
    html = alice.get(reverse("sessions_app:index")).content.decode()

    assert '<label for="id_model">Model</label>' in html
    assert '<optgroup label="Fake OpenAI">' in html
    assert f'<option value="{model.pk}" selected>GPT-4o</option>' in html
    assert "Message</label>" in html
    assert '<button type="submit" class="primary">Send</button>' in html


def empty_state(html: str) -> str:
    """The card that stands in for the composer when no model can answer."""
    start = html.index('<div class="card empty" role="status">')
    return html[start : html.index("</div>", start)]


def seed() -> None:
    call_command("seed_providers", "--if-empty", stdout=io.StringIO())


def test_a_freshly_seeded_install_preselects_nothing_and_sends_nothing_upstream(
    staff_client: Client, staff: User, user: User, fake_upstream: FakeUpstream
) -> None:
    seed()
    # Even with something answering at Ollama's address, nothing goes there unasked.
    Provider.objects.filter(preset="ollama").update(base_url=fake_upstream.base_url)
    fake_upstream.models = ["llama3.2"]
    llama = LLMModel.objects.get(provider__preset="ollama", model_id="llama3.2")

    html = staff_client.get(reverse("sessions_app:index")).content.decode()
    response = staff_client.post(
        reverse("sessions_app:send_first"),
        {"content": "Hello", "model": llama.pk},
        headers={"HX-Request": "true"},
    )

    for person in (staff, user):
        with pytest.raises(access.NoUsableModelError):
            access.default_model(person)
    assert "No model is ready yet" in empty_state(html)
    assert 'id="composer"' not in html
    assert "its provider Ollama is switched off" in response.content.decode()
    assert not ChatSession.objects.exists()
    assert not Message.objects.exists()
    assert fake_upstream.requests == []


def test_the_empty_chat_tells_staff_to_add_a_key_or_start_ollama(staff_client: Client) -> None:
    seed()
    ollama = Provider.objects.get(preset="ollama")

    card = empty_state(staff_client.get(reverse("sessions_app:index")).content.decode())

    providers = reverse("admin:providers_provider_changelist")
    assert f'<strong>Add an API key</strong>: open <a href="{providers}">Providers</a>' in card
    assert "<code>ollama serve</code>, then <code>ollama pull llama3.2</code>" in card
    change = reverse("admin:providers_provider_change", args=[ollama.pk])
    assert f'<a href="{change}">the Ollama provider</a> press Verify, tick “Enabled”' in card
    assert f'<a href="{reverse("admin:providers_llmmodel_changelist")}">Models</a>' in card
    assert "Ask your Switchboard administrator" not in card


def test_without_an_ollama_provider_staff_are_sent_to_add_one(staff_client: Client) -> None:
    seed()
    Provider.objects.filter(preset="ollama").delete()

    card = empty_state(staff_client.get(reverse("sessions_app:index")).content.decode())

    add = reverse("admin:providers_provider_add")
    assert f'then <a href="{add}">add a provider</a> with the Ollama preset' in card
    assert "ollama pull" not in card


def test_the_empty_chat_tells_others_to_ask_staff(
    alice: Client, fake_upstream: FakeUpstream
) -> None:
    seed()
    # A provider that takes personal keys, whose only model is off: a key of her own would
    # not switch that model on, so the page does not send her to Settings for one.
    provider = make_fake_provider(fake_upstream, allow_personal_keys=True)
    make_model(provider, enabled=False)

    card = empty_state(alice.get(reverse("sessions_app:index")).content.decode())

    assert "No model is ready yet" in card
    assert "Ask your Switchboard administrator (a staff member) to set up a provider" in card
    assert "/admin/" not in card
    assert reverse("accounts:settings") not in card


def test_the_picker_lists_only_usable_models(alice: Client, model: LLMModel) -> None:
    off = make_model(model.provider, model_id="gpt-3.5", enabled=False)

    html = alice.get(reverse("sessions_app:index")).content.decode()

    assert f'value="{off.pk}"' not in html
    assert f'<option value="{model.pk}" selected>GPT-4o</option>' in html


# The chat page of a two-message chat with 2,000 models in the catalogue: 5.4 KiB with the
# picker's shortlist, against 94 KiB when every model was an option (issue 12). 16 KiB
# leaves room for the page to grow, and fails long before a few hundred options (about
# 60 bytes each) could creep back in.
PAGE_BUDGET = 16 * 1024


def test_with_2000_models_the_chat_page_stays_small(
    alice: Client, user: User, fake_upstream: FakeUpstream
) -> None:
    make_catalogue(upstream=fake_upstream)
    session = ChatSession.objects.create(owner=user)
    session.start_turn(content="Hi", model=LLMModel.objects.get(model_id="model-07-117"))

    response = alice.get(session.get_absolute_url())

    html = response.content.decode()
    assert len(response.content) < PAGE_BUDGET
    assert 'aria-label="Search the catalogue"' in html
    assert "Search 2000 models…" in html
    assert html.count("<option") == 1


def test_a_big_catalogues_picker_keeps_the_models_of_the_latest_answers(
    alice: Client, user: User, fake_upstream: FakeUpstream
) -> None:
    make_catalogue(upstream=fake_upstream)
    used = [LLMModel.objects.get(model_id=f"model-0{n}-00{n}") for n in range(RECENT_MODELS + 1)]
    for model in used:  # the oldest first: the one left out, as the ninth model back
        ChatSession.objects.create(owner=user).start_turn(content="Hi", model=model)
    elsewhere = ChatSession.objects.create(owner=user)
    elsewhere.start_turn(content="Hi", model=used[-1])

    html = alice.get(elsewhere.get_absolute_url()).content.decode()

    assert html.count("<option") == RECENT_MODELS
    assert f'<option value="{used[-1].pk}" selected>Model 08-008</option>' in html
    assert f'value="{used[0].pk}"' not in html
    for model in used[1:-1]:
        assert f'<option value="{model.pk}">{model.label}</option>' in html


def test_sending_saves_the_turn_and_returns_the_streaming_partial(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)

    response = alice.post(
        reverse("sessions_app:send", args=[session.public_id]),
        {"content": "What is 2+2?", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    question, reply = session.messages.all()
    assert (question.content, question.status) == ("What is 2+2?", "done")
    assert (reply.status, reply.llm_model, reply.provider_name) == ("pending", model, "Fake OpenAI")
    assert 'data-role="assistant" data-status="pending"' in html
    assert reverse("sessions_app:stream", args=[session.public_id, reply.public_id]) in html
    assert "GPT-4o" in html
    session.refresh_from_db()
    assert (session.current_model, session.title) == (model, "What is 2+2?")


def test_the_first_message_creates_the_chat_and_loads_it(alice: Client, model: LLMModel) -> None:
    response = alice.post(
        reverse("sessions_app:send_first"),
        {"content": "Hello", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    session = ChatSession.objects.get()
    assert response["HX-Redirect"] == session.get_absolute_url()


def test_an_empty_message_is_refused_and_nothing_is_saved(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)

    response = alice.post(
        reverse("sessions_app:send", args=[session.public_id]),
        {"content": "   ", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#composer"
    assert "Type a message first." in response.content.decode()
    assert not Message.objects.exists()


def test_a_model_switched_off_is_refused_with_a_message(
    alice: Client, user: User, model: LLMModel, fake_upstream: FakeUpstream
) -> None:
    session = ChatSession.objects.create(owner=user)
    model.enabled = False
    model.save()

    response = alice.post(
        reverse("sessions_app:send", args=[session.public_id]),
        {"content": "Hello", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    assert "GPT-4o is switched off; pick another model." in response.content.decode()
    assert not Message.objects.exists()
    assert fake_upstream.requests == []


def test_reopening_a_chat_preselects_its_last_model(
    alice: Client, user: User, model: LLMModel
) -> None:
    other = make_model(model.provider, model_id="gpt-4o-mini")
    session = ChatSession.objects.create(owner=user)
    session.start_turn(content="Hi", model=other)

    html = alice.get(session.get_absolute_url()).content.decode()

    assert f'<option value="{other.pk}" selected>' in html


def test_a_removed_last_model_falls_back_and_says_so(
    alice: Client, user: User, model: LLMModel
) -> None:
    other = make_model(model.provider, model_id="gpt-4o-mini", display_name="Mini")
    session = ChatSession.objects.create(owner=user)
    session.start_turn(content="Hi", model=other)
    other.enabled = False
    other.save()

    html = alice.get(session.get_absolute_url()).content.decode()

    assert "Mini is not available any more; GPT-4o is selected instead." in html
    assert f'<option value="{model.pk}" selected>' in html


def test_rename_and_delete(alice: Client, user: User) -> None:
    session = ChatSession.objects.create(owner=user, title="Old")

    alice.post(reverse("sessions_app:rename", args=[session.public_id]), {"title": "New title"})
    session.refresh_from_db()
    assert session.title == "New title"

    deleted = alice.post(reverse("sessions_app:delete", args=[session.public_id]), follow=True)
    assert not ChatSession.objects.exists()
    assert deleted.redirect_chain == [(reverse("sessions_app:index"), 302)]
    assert "Chat deleted." in deleted.content.decode()


def test_stop_before_the_stream_starts_marks_it_stopped(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)

    response = alice.post(reverse("sessions_app:stop", args=[session.public_id, reply.public_id]))

    reply.refresh_from_db()
    assert response.status_code == 204
    assert (reply.status, reply.error) == ("stopped", "Stopped before it started.")


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("sessions_app:session", "get"),
        ("sessions_app:send", "post"),
        ("sessions_app:rename", "post"),
        ("sessions_app:choose_model", "post"),
        ("sessions_app:delete", "post"),
    ],
)
def test_another_persons_chat_is_a_404(
    client: Client, user: User, other_user: User, model: LLMModel, name: str, method: str
) -> None:
    session = ChatSession.objects.create(owner=user, title="Alice's")
    client.force_login(other_user)

    response = getattr(client, method)(
        reverse(name, args=[session.public_id]), {"content": "x", "model": model.pk, "title": "x"}
    )

    assert response.status_code == 404
    session.refresh_from_db()
    assert session.title == "Alice's"
    assert not session.messages.exists()
    client.force_login(user)  # the same request is no 404 for the owner
    owner = getattr(client, method)(
        reverse(name, args=[session.public_id]), {"content": "x", "model": model.pk, "title": "x"}
    )
    assert owner.status_code in (200, 204, 302)


@pytest.mark.parametrize(
    "name",
    [
        "sessions_app:stream",
        "sessions_app:stop",
        "sessions_app:answer_again",
        "sessions_app:answer_text",
    ],
)
def test_another_persons_answer_is_a_404(
    client: Client, user: User, other_user: User, model: LLMModel, name: str
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    client.force_login(other_user)

    method = client.get if name.endswith(("stream", "text")) else client.post
    response = method(reverse(name, args=[session.public_id, reply.public_id]))

    assert response.status_code == 404
    reply.refresh_from_db()
    assert reply.status == "pending"
    assert session.messages.count() == 2
    if not name.endswith("stream"):  # a stream is served in test_streaming.py
        client.force_login(user)  # the same request is no 404 for the owner
        assert method(reverse(name, args=[session.public_id, reply.public_id])).status_code != 404


def test_an_unknown_chat_is_a_404(alice: Client) -> None:
    assert alice.get(reverse("sessions_app:session", args=[uuid.uuid4()])).status_code == 404


def test_htmx_posts_need_the_csrf_token(user: User, model: LLMModel) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = ChatSession.objects.create(owner=user)
    url = reverse("sessions_app:send", args=[session.public_id])
    data = {"content": "Hello", "model": model.pk}

    refused = client.post(url, data, headers={"HX-Request": "true"})
    page = client.get(session.get_absolute_url())
    token = page.context["csrf_token"]
    accepted = client.post(url, data, headers={"HX-Request": "true", "X-CSRFToken": str(token)})

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert session.messages.count() == 2


def finish(reply: Message, content: str, status: str = "done") -> None:
    Message.objects.filter(pk=reply.pk).update(status=status, content=content)
    reply.refresh_from_db()


def test_regenerate_answers_the_last_question_again_with_the_picked_model(
    alice: Client, user: User, model: LLMModel
) -> None:
    other = make_model(model.provider, model_id="gpt-4o-mini", display_name="Mini")
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    finish(reply, "Hello!")

    response = alice.post(
        reverse("sessions_app:answer_again", args=[session.public_id, reply.public_id]),
        {"model": other.pk},
        headers={"HX-Request": "true"},
    )

    new = session.messages.last()
    assert (new.status, new.llm_model, new.role) == ("pending", other, "assistant")
    assert 'data-status="pending"' in response.content.decode()
    session.refresh_from_db()
    assert session.current_model == other


def test_retry_keeps_the_failed_answers_model(alice: Client, user: User, model: LLMModel) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    finish(reply, "Hel", status="error")

    alice.post(
        reverse("sessions_app:answer_again", args=[session.public_id, reply.public_id]),
        headers={"HX-Request": "true"},
    )

    assert session.messages.last().llm_model == model


def test_only_the_last_answer_can_be_redone(alice: Client, user: User, model: LLMModel) -> None:
    session = ChatSession.objects.create(owner=user)
    _, first = session.start_turn(content="Hi", model=model)
    finish(first, "Hello!")
    _, second = session.start_turn(content="Again", model=model)
    finish(second, "Hello again!")

    response = alice.post(
        reverse("sessions_app:answer_again", args=[session.public_id, first.public_id]),
        headers={"HX-Request": "true"},
    )

    assert response["HX-Refresh"] == "true"
    assert session.messages.count() == 4
    page = alice.get(session.get_absolute_url()).content.decode()
    assert "Only the last, finished answer can be answered again." in page


@pytest.mark.django_db(transaction=True)  # each thread commits on its own connection
def test_two_regenerates_at_once_make_one_answer_and_tell_the_other_why(
    user: User, model: LLMModel
) -> None:
    """Guards the session lock on PostgreSQL (.ci/run's second pass); SQLite's IMMEDIATE
    transactions serialise the two anyway."""
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    finish(reply, "Hello!")
    url = reverse("sessions_app:answer_again", args=[session.public_id, reply.public_id])
    clients = [Client(), Client()]
    for browser in clients:
        browser.force_login(user)
    responses: dict[Client, HttpResponse] = {}

    def regenerate(browser: Client) -> None:
        responses[browser] = browser.post(url, headers={"HX-Request": "true"})

    # Without a lock both requests read the answer as the latest before either adds one.
    hold = 'INSERT INTO "sessions_app_message"'
    errors = race(*((partial(regenerate, browser), statement(hold)) for browser in clients))

    assert errors == [None, None]  # a 500 would have raised here
    assert session.messages.filter(status="pending").count() == 1
    [loser] = [browser for browser, r in responses.items() if r.get("HX-Refresh") == "true"]
    page = loser.get(session.get_absolute_url()).content.decode()
    assert "Only the last, finished answer can be answered again." in page


def test_a_regenerated_answer_replaces_the_old_one_upstream(user: User, model: LLMModel) -> None:
    from sessions_app.conversation import build_request

    session = ChatSession.objects.create(owner=user)
    _, first = session.start_turn(content="Hi", model=model)
    finish(first, "Hello!")
    again = session.answer_again(first, model=model)
    finish(again, "Hi there!")
    _, reply = session.start_turn(content="How are you?", model=model)

    request, left_out = build_request(reply, reply.llm_model)

    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "Hi"),
        ("assistant", "Hi there!"),
        ("user", "How are you?"),
    ]
    assert left_out == 0


def test_switching_the_model_is_remembered_on_the_chat(
    alice: Client, user: User, model: LLMModel
) -> None:
    other = make_model(model.provider, model_id="gpt-4o-mini")
    session = ChatSession.objects.create(owner=user, current_model=model)

    response = alice.post(
        reverse("sessions_app:choose_model", args=[session.public_id]), {"model": other.pk}
    )

    assert response.content == b""  # clears a refusal shown beside the picker
    session.refresh_from_db()
    assert session.current_model == other


def test_a_model_closed_to_the_users_tier_is_refused_and_not_listed(
    alice: Client, user: User, model: LLMModel, fake_upstream: FakeUpstream
) -> None:
    from providers.models import Tier

    research = Tier.objects.create(name="Research")
    research.ensure_group()
    interns = Tier.objects.create(name="Interns", is_default=True)
    interns.ensure_group()
    model.allowed_tiers.add(research)
    open_model = make_model(model.provider, model_id="gpt-4o-mini", display_name="Mini")
    session = ChatSession.objects.create(owner=user)

    page = alice.get(session.get_absolute_url()).content.decode()
    response = alice.post(
        reverse("sessions_app:send", args=[session.public_id]),
        {"content": "Hello", "model": model.pk},
        headers={"HX-Request": "true"},
    )

    assert f'value="{model.pk}"' not in page
    assert f'value="{open_model.pk}"' in page
    assert "GPT-4o is not available to your tier (Interns)." in response.content.decode()
    assert not Message.objects.exists()
    assert fake_upstream.requests == []


def test_copy_gets_the_answer_as_written_from_its_own_url(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    written = "# Title\n\n<script>alert(1)</script> and **bold**\r\n"
    Message.objects.filter(pk=reply.pk).update(status="done", content=written)

    page = alice.get(reverse("sessions_app:session", args=[session.public_id])).content.decode()
    text = alice.get(reverse("sessions_app:answer_text", args=[session.public_id, reply.public_id]))

    copy_url = reverse("sessions_app:answer_text", args=[session.public_id, reply.public_id])
    assert f'data-copy-url="{copy_url}"' in page
    assert page.count("and <strong>bold</strong>") == 1  # the text is on the page once
    assert "**bold**" not in page
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert text["X-Content-Type-Options"] == "nosniff"
    assert text.content.decode() == written


def chat_of_every_kind(user: User, model: LLMModel, *, turns: int) -> ChatSession:
    """`turns` answered turns, ended every way an answer ends (its HTML stored as a stream
    stores it), then a question whose answer is still streaming."""
    session = ChatSession.objects.create(owner=user)
    ends = [
        {"status": "done", "content": "**Yes** and `code`", "output_tokens": 9, "latency_ms": 80},
        {"status": "error", "content": "Hal", "error": "The provider failed.", "latency_ms": 40},
        {"status": "stopped", "content": "Sto", "error": "Stopped.", "turns_left_out": 2},
    ]
    for turn in range(turns):
        _, reply = session.start_turn(content=f"Question {turn}", model=model)
        assert reply.claim()
        reply.finish(**ends[turn % len(ends)])
    _, streaming = session.start_turn(content="And now?", model=model)
    assert streaming.claim()
    return session


def queries_of(client: Client, url: str) -> int:
    client.get(url)  # warm: the first view of a chat may store answers' HTML
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_long_chat_costs_the_page_no_more_queries_than_a_short_one(
    alice: Client, user: User, model: LLMModel
) -> None:
    short = chat_of_every_kind(user, model, turns=3)
    long = chat_of_every_kind(user, model, turns=60)

    assert queries_of(alice, long.get_absolute_url()) == queries_of(alice, short.get_absolute_url())


def test_each_answer_on_the_page_carries_its_own_urls(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = chat_of_every_kind(user, model, turns=3)

    page = alice.get(session.get_absolute_url()).content.decode()

    *finished, streaming = session.messages.filter(role="assistant")
    for answer in finished:
        ids = [session.public_id, answer.public_id]
        assert f'data-copy-url="{reverse("sessions_app:answer_text", args=ids)}"' in page
        assert f'hx-post="{reverse("sessions_app:answer_again", args=ids)}"' in page
    ids = [session.public_id, streaming.public_id]
    assert f'sse-connect="{reverse("sessions_app:stream", args=ids)}"' in page
    assert f'hx-post="{reverse("sessions_app:stop", args=ids)}"' in page


def test_an_answer_shows_its_size_and_time_once_it_has_them(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = chat_of_every_kind(user, model, turns=3)

    page = alice.get(session.get_absolute_url()).content.decode()

    assert '<span class="muted stats">total 80 ms · tokens ? in / 9 out</span>' in page  # done
    assert '<span class="muted stats">total 40 ms</span>' in page  # error: no usage came
    assert page.count('class="muted stats"') == 2  # stopped and streaming: no time yet


def test_the_page_shows_an_answers_stored_html_without_rendering_it_again(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = chat_of_every_kind(user, model, turns=1)
    answer = session.messages.get(role="assistant", status="done")
    Message.objects.filter(pk=answer.pk).update(content_html="<p>As stored.</p>")

    page = alice.get(session.get_absolute_url()).content.decode()

    assert "<p>As stored.</p>" in page
    assert "<strong>Yes</strong>" not in page


def test_an_answer_stored_before_the_renderer_changed_is_shown_sanitized_by_todays(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    Message.objects.filter(pk=reply.pk).update(
        status="done",
        content="**Bold** <script>alert(1)</script>",
        content_html="<p><script>alert('stored')</script></p>",
        content_html_renderer="an-older-one",
    )

    page = alice.get(session.get_absolute_url()).content.decode()

    assert "<strong>Bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
