"""The chat as a person uses it: Chromium, the app under uvicorn, the fake upstream.

The `page` fixture fails any of these on a Content-Security-Policy violation, so each
also shows that htmx, its SSE extension and chat.js work under the policy.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Locator, Page, expect

from accounts.tests.browser import log_in
from fakes.proxy import CuttableProxy
from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import Provider
from providers.tests.factories import make_catalogue, make_fake_provider, make_model
from sessions_app.models import ChatSession, Message

pytestmark = pytest.mark.django_db(transaction=True)

# The README's picture; only `make screenshot` writes it (see test_the_readme_picture).
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "chat.png"


@pytest.fixture
def models(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["gpt-4o", "claude-sonnet-5-5"]
    openai = make_fake_provider(fake_upstream)
    make_model(openai, model_id="gpt-4o", display_name="GPT-4o", is_default=True)
    anthropic = make_fake_provider(fake_upstream, protocol="anthropic")
    make_model(anthropic, model_id="claude-sonnet-5-5", display_name="Claude Sonnet")


def answers(page: Page):
    return page.locator('article[data-role="assistant"]')


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def open_new_chat(page: Page, url: str) -> None:
    """Log in as alice and open a new chat with New chat."""
    log_in(page, url, "alice")
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))


def requests_of(page: Page) -> list[str]:
    """The requests `page` makes from now on, as "METHOD URL", as they are made."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    return requests


def first_answer(page: Page, url: str, question: str = "Say hello") -> Locator:
    """Log in, ask, and wait until the first answer is finished."""
    log_in(page, url, "alice")
    send(page, question)
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    return answer


def two_answers_from_two_providers(page: Page, url: str) -> tuple[Locator, Locator]:
    """Log in, ask GPT-4o, then Claude Sonnet in the same chat; both answers finished."""
    open_new_chat(page, url)
    page.get_by_label("Model").select_option(label="GPT-4o")
    send(page, "Say hello")
    first = answers(page).first
    expect(first).to_have_attribute("data-status", "done")
    page.get_by_label("Model").select_option(label="Claude Sonnet")
    send(page, "And again")
    second = answers(page).nth(1)
    expect(second).to_have_attribute("data-status", "done")
    return first, second


def test_chat_streams_switches_model_and_remembers_it(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    first, second = two_answers_from_two_providers(page, asgi_server)

    expect(first).to_contain_text("Hello, world!")
    expect(first.locator(".model-name")).to_have_text("GPT-4o")
    expect(first.locator(".provider-name")).to_have_text("Fake OpenAI")
    expect(second.locator(".model-name")).to_have_text("Claude Sonnet")
    expect(second.locator(".provider-name")).to_have_text("Fake Anthropic")
    assert [r.protocol for r in fake_upstream.requests] == ["openai", "anthropic"]

    page.reload()
    expect(page.get_by_label("Model")).to_have_value(re.compile(r"\d+"))
    assert page.get_by_label("Model").evaluate("s => s.selectedOptions[0].text") == "Claude Sonnet"
    expect(answers(page)).to_have_count(2)


def test_regenerate_answers_again_with_the_model_picked_now(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    first_answer(page, asgi_server)

    page.get_by_label("Model").select_option(label="Claude Sonnet")
    answers(page).first.get_by_role("button", name="Regenerate").click()

    again = answers(page).first  # in the old one's place, as its second version
    expect(again.locator(".model-name")).to_have_text("Claude Sonnet")
    expect(again).to_have_attribute("data-status", "done")
    expect(again).to_contain_text("Hello, world!")
    expect(answers(page)).to_have_count(1)
    expect(page.locator(".versions .position")).to_have_text("2 / 2")
    assert [r.protocol for r in fake_upstream.requests] == ["openai", "anthropic"]


def test_with_2000_models_the_picker_finds_one_by_typing(
    user: User, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    make_catalogue(upstream=fake_upstream)
    fake_upstream.models = ["model-07-117"]
    log_in(page, asgi_server, "alice")
    picker = page.get_by_label("Model")
    wanted = picker.locator("option", has_text="Model 07-117")
    expect(wanted).to_have_count(0)  # the page carries a shortlist, not 2,000 options

    search = page.get_by_role("searchbox", name="Search the catalogue")
    search.press_sequentially("07-117")
    expect(wanted).to_have_count(1)
    search.press("Enter")  # to the picker; the composer around it sends nothing
    expect(picker).to_be_focused()
    search.press("Tab")
    expect(picker).to_be_focused()
    picker.select_option(label="Model 07-117")
    send(page, "Hello from far down the list")

    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".model-name")).to_have_text("Model 07-117")
    expect(answer.locator(".provider-name")).to_have_text("Provider 07")
    assert [r.body["model"] for r in fake_upstream.requests] == ["model-07-117"]
    assert [m.content for m in Message.objects.filter(role="user")] == [
        "Hello from far down the list"
    ]


def test_deleting_a_chat_asks_first(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    first_answer(page, asgi_server)
    questions: list[str] = []

    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    expect(answers(page)).to_have_count(1)  # dismissed: still here
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()

    page.wait_for_url(f"{asgi_server}/")
    expect(page.get_by_role("status")).to_contain_text("Chat deleted.")
    assert questions == ["Delete this chat?"]


def test_stop_keeps_the_partial_answer(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # "Hello", then the model goes quiet until the test says go
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    log_in(page, asgi_server, "alice")
    send(page, "Say hello slowly")
    answer = answers(page).first
    expect(answer).to_contain_text("Hello")

    answer.get_by_role("button", name="Stop").click()

    expect(answer).to_have_attribute("data-status", "stopped", timeout=30_000)
    gate.open()
    expect(answer).to_contain_text("Stopped.")
    expect(answer.locator(".body")).to_have_text("Hello")


def test_the_answer_comes_on_the_response_to_send(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    requests = requests_of(page)
    open_new_chat(page, asgi_server)
    requests.clear()

    with page.expect_response(re.compile(r"/send/$")) as sent:
        send(page, "Say hello")

    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".body")).to_have_text("Hello, world!")
    expect(page).to_have_title(re.compile("^Say hello"))  # the turn's title swaps, as htmx's
    expect(page.get_by_label("Message")).to_have_value("")
    assert sent.value.headers["content-type"].startswith("text/event-stream")
    assert [r for r in requests if "/static/" not in r] == [f"POST {sent.value.url}"]


def test_a_new_chats_first_message_turns_the_start_page_into_the_chat(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    requests = requests_of(page)
    log_in(page, asgi_server, "alice")  # the start page
    requests.clear()

    with page.expect_response(re.compile(r"/chat/send/$")) as sent:
        send(page, "Say hello")

    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".body")).to_have_text("Hello, world!")
    session = ChatSession.objects.get()
    expect(page).to_have_url(asgi_server + session.get_absolute_url())
    expect(page).to_have_title("Say hello · Switchboard")
    expect(page.locator(f"#chat-{session.public_id}")).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Message")).to_be_focused()
    assert [r for r in requests if "/static/" not in r] == [f"POST {sent.value.url}"]

    send(page, "And again")  # the next goes to this chat, on its own response
    expect(answers(page).nth(1)).to_have_attribute("data-status", "done")
    page.reload()  # the address is the chat's
    expect(answers(page)).to_have_count(2)
    assert ChatSession.objects.count() == 1


def test_an_answer_cut_off_on_its_way_is_read_again_from_its_own_stream(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # "Hello", then the model is silent while the connection drops
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    with CuttableProxy(asgi_server) as network:
        open_new_chat(page, network.url)
        send(page, "Say hello")
        answer = answers(page).first
        expect(answer).to_contain_text("Hello")

        with page.expect_request(re.compile(r"/stream/$")):
            network.cut()  # a network change, a laptop lid, a proxy's idle timeout
        gate.open()

        expect(answer).to_have_attribute("data-status", "done")
        expect(answer.locator(".body")).to_have_text("Hello, world!")
    assert len(fake_upstream.requests) == 1  # read again, not asked again


def test_a_send_that_fails_says_so_and_keeps_the_message(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    with CuttableProxy(asgi_server) as network:
        open_new_chat(page, network.url)
    # The network is gone.
    send(page, "Say hello")
    expect(page.get_by_role("alert").filter(has_text="could not be reached")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("Say hello")

    chat = urlsplit(page.url).path
    page.goto(asgi_server + chat)  # another way in (cookies know no port)
    page.context.clear_cookies(name="sessionid")  # signed out, in another tab say
    send(page, "Say hello")
    expect(page.get_by_role("alert").filter(has_text="You are signed out")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("Say hello")

    log_in(page, asgi_server, "alice", next_path=chat)
    ChatSession.objects.all().delete()  # in another tab, say
    send(page, "Say hello")
    expect(page.get_by_role("alert").filter(has_text="HTTP 404")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("Say hello")
    assert not fake_upstream.requests


def test_a_refusal_is_shown_until_a_message_is_sent(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    open_new_chat(page, asgi_server)
    send(page, "Say\x00 hello")  # the form refuses a NUL, as PostgreSQL would
    refusal = page.get_by_role("alert").filter(has_text="Null characters are not allowed.")
    expect(refusal).to_be_visible()
    # Kept, as the refused form brings it back: HTML has no NUL, so the box shows U+FFFD.
    expect(page.get_by_label("Message")).to_have_value("Say\ufffd hello")

    send(page, "Say hello")

    expect(answers(page).first).to_have_attribute("data-status", "done")
    expect(refusal).to_have_count(0)
    expect(page.get_by_label("Message")).to_have_value("")
    assert Message.objects.filter(role="user").count() == 1


def test_a_second_enter_before_the_turn_is_in_sends_nothing_more(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    open_new_chat(page, asgi_server)
    page.get_by_label("Message").fill("Say hello")

    # Both in one turn of the page's event loop: the first Send cannot have come back.
    page.locator("form#composer").evaluate(
        "form => { form.requestSubmit(); form.requestSubmit(); }"
    )

    expect(answers(page).first).to_have_attribute("data-status", "done")
    expect(page.get_by_label("Message")).to_have_value("")
    expect(page.locator('article[data-role="user"]')).to_have_count(1)
    assert Message.objects.filter(role="user").count() == 1
    assert len(fake_upstream.requests) == 1


def test_an_upstream_error_reads_as_a_sentence(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.faults += [Fault(status=500), Fault(status=500)]
    log_in(page, asgi_server, "alice")
    send(page, "Hello?")

    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer.get_by_role("alert")).to_contain_text(
        "The provider failed to answer; try again later."
    )


def test_the_chat_fits_a_phone(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, asgi_server, "alice")
    send(page, "Say hello")

    expect(answers(page).first).to_have_attribute("data-status", "done")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing forces sideways scrolling
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()


def test_copy_puts_the_answer_as_written_on_the_clipboard(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = ["**Bold**", " and `code`"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    answer = first_answer(page, asgi_server, "Format something")

    answer.get_by_role("button", name="Copy").click()

    expect(answer.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "**Bold** and `code`"


def test_a_carriage_return_in_the_answer_cannot_forge_its_end(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    forged = '<article data-role="assistant" data-status="done" id="forged">pwned</article>'
    fake_upstream.reply = ["Hello", f"\r\revent: done\rdata: {forged}\r\r", "world"]
    log_in(page, asgi_server, "alice")
    send(page, "Say hello")

    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("world")
    expect(page.locator("#forged")).to_have_count(0)
    expect(answers(page)).to_have_count(1)


def test_a_fresh_install_leads_staff_from_the_empty_chat_to_an_answering_ollama(
    staff: User, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    call_command("seed_providers", "--if-empty", stdout=io.StringIO())
    # "Ollama started": the seeded provider's address answers (the fake, listing llama3.2).
    Provider.objects.filter(preset="ollama").update(base_url=fake_upstream.base_url)
    fake_upstream.models = ["llama3.2"]
    page.goto(f"{asgi_server}/accounts/login/")
    page.get_by_label("Username").fill("charlie")
    page.get_by_label("Password").fill("charlie-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server}/")

    empty = page.locator(".card.empty")
    expect(empty).to_contain_text("No model is ready yet")
    expect(page.get_by_label("Message")).to_have_count(0)
    empty.get_by_role("link", name="the Ollama provider").click()
    page.get_by_role("button", name="Verify").click()

    expect(page.locator(".messagelist")).to_contain_text("Ollama: OK in")
    expect(page.locator(".messagelist")).to_contain_text(
        "It is still switched off: tick “Enabled” on its page and save"
    )
    assert len(fake_upstream.requests) == 1  # the check, and nothing else yet
    page.locator("#id_enabled").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"{asgi_server}/")
    assert page.get_by_label("Model").evaluate("s => s.selectedOptions[0].text") == "llama3.2"
    send(page, "Say hello")
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("Hello, world!")
    expect(answer.locator(".provider-name")).to_have_text("Ollama")
    assert [r.body["model"] for r in fake_upstream.requests] == ["llama3.2", "llama3.2"]


@pytest.mark.screenshot
def test_the_readme_picture(
    user: User, models: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    """docs/chat.png: two answers from two providers. Run by `make screenshot` alone."""
    two_answers_from_two_providers(page, asgi_server)

    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(SCREENSHOT))
