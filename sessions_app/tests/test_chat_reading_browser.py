"""Reading and writing in the chat, in Chromium: answers formatted while they stream, code
highlighted with a Copy per block (on plain http under a host name too), the wait said,
the title without a reload, the shortcuts, a phone's first screen, and a tier's refusal
beside the picker."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import LLMModel
from providers.tests.factories import make_fake_provider, make_model, make_tier
from sessions_app.models import ChatSession

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "switchboard.test"  # conftest's CHROMIUM_ARGS map it to 127.0.0.1


@pytest.fixture
def asgi_env() -> dict[str, str]:
    return {"ALLOWED_HOSTS": f"127.0.0.1,{HOST}"}


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["gpt-4o"]
    make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


def ask(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def answer(page: Page, nth: int = 0):
    return page.locator('article[data-role="assistant"]').nth(nth)


def test_an_answer_is_formatted_while_it_streams_after_saying_what_it_waits_for(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = ["## Plan\n\n- one\n", "- two\n"]
    before = Gate()
    fake_upstream.faults.append(Fault(hold=before, hold_after_tokens=0))
    log_in(page, asgi_server, "alice")
    ask(page, "Plan it")

    before.wait_held()
    expect(answer(page)).to_contain_text(re.compile(r"Waiting for GPT-4o to answer… \d+ s"))
    expect(answer(page).locator(".elapsed")).not_to_have_text("0 s")  # it counts
    before.open()

    expect(answer(page).locator("h2")).to_have_text("Plan")
    expect(answer(page)).to_have_attribute("data-status", "done")
    expect(answer(page).locator("li")).to_have_text(["one", "two"])
    expect(answer(page).locator(".stats")).to_contain_text(re.compile(r"first token \d+ ms"))
    expect(answer(page).locator(".stats")).to_contain_text(re.compile(r"total \d+ ms"))


def test_code_is_highlighted_and_each_block_copies_on_plain_http_under_a_host_name(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = [
        "Two blocks:\n\n```python\ndef f():\n    return 1\n```\n\n",
        "```\nsecond\n```\n",
    ]
    url = asgi_server.replace("127.0.0.1", HOST)
    log_in(page, url, "alice")
    assert page.evaluate("window.isSecureContext") is False  # no navigator.clipboard here
    ask(page, "Code please")
    expect(answer(page)).to_have_attribute("data-status", "done")
    expect(answer(page).locator("pre span.k").first).to_have_text("def")

    blocks = answer(page).locator("pre")
    expect(blocks).to_have_count(2)
    blocks.nth(0).get_by_role("button", name="Copy this code").click()
    expect(blocks.nth(0).locator("button.copy-code")).to_have_text("Copied")

    # Read back where the clipboard API exists: a page of the same browser on loopback.
    page.context.grant_permissions(["clipboard-read"], origin=asgi_server)
    reader = page.context.new_page()
    reader.goto(f"{asgi_server}/accounts/login/")
    assert reader.evaluate("navigator.clipboard.readText()") == "def f():\n    return 1\n"


def test_a_new_chat_gets_its_title_at_the_first_question_without_a_reload(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
    page.evaluate("window.notReloaded = true")

    ask(page, "Tell me about otters")

    expect(page.locator("#session-title")).to_have_value("Tell me about otters")
    expect(page.locator(".session-list [aria-current=page]")).to_have_text("Tell me about otters")
    expect(page).to_have_title("Tell me about otters · Switchboard")
    assert page.evaluate("window.notReloaded") is True


def test_escape_stops_the_answer_and_the_keys_focus_the_box_and_start_a_chat(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    log_in(page, asgi_server, "alice")
    ask(page, "Say hello")
    expect(answer(page)).to_contain_text("Hello,")

    page.keyboard.press("Escape")

    expect(answer(page)).to_have_attribute("data-status", "stopped")
    gate.open()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.get_by_label("Message")).to_be_focused()
    first_chat = page.url
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url(lambda url: url != first_chat and re.search(r"/chat/[0-9a-f-]{36}/$", url))
    assert ChatSession.objects.filter(owner=user).count() == 2


def test_on_a_phone_the_message_box_is_in_view_however_many_chats(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    for n in range(30):
        ChatSession.objects.create(owner=user, title=f"Chat {n}")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, asgi_server, "alice")
    ask(page, "Say hello")
    expect(answer(page)).to_have_attribute("data-status", "done")

    page.reload()

    expect(page.get_by_label("Message")).to_be_in_viewport()
    expect(answer(page)).to_be_in_viewport()  # opened at its latest message


def test_a_long_chat_opens_at_its_end_and_keeps_a_new_answer_in_view(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    session = ChatSession.objects.create(owner=user, title="Long")
    for n in range(30):
        _, reply = session.start_turn(content=f"Question {n}", model=LLMModel.objects.get())
        assert reply.claim()
        reply.finish(status="done", content=f"Answer {n}.\n\n" + "More words. " * 40)
    fake_upstream.reply = [f"Paragraph {n}.\n\n" + "Streamed words. " * 30 for n in range(8)]
    page.set_viewport_size({"width": 1024, "height": 700})
    log_in(page, asgi_server, "alice")
    page.goto(asgi_server + session.get_absolute_url())

    expect(answer(page, 29)).to_be_in_viewport()
    expect(answer(page, 0)).not_to_be_in_viewport()

    ask(page, "And one more")

    expect(answer(page, 30)).to_have_attribute("data-status", "done")
    expect(answer(page, 30).get_by_text("Paragraph 7.")).to_be_in_viewport()
    expect(answer(page, 29)).not_to_be_in_viewport()


def test_a_tier_refusal_shows_beside_the_picker(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Say hello")
    expect(answer(page)).to_have_attribute("data-status", "done")
    make_tier("Interns", is_default=True)
    LLMModel.objects.get(model_id="gpt-4o").allowed_tiers.add(make_tier("Research"))
    page.evaluate("window.notReloaded = true")

    answer(page).get_by_role("button", name="Regenerate").click()

    refusal = page.locator(".composer-row #model-refusal")
    expect(refusal).to_have_text("GPT-4o is not available to your tier (Interns).")
    assert page.evaluate("window.notReloaded") is True  # the page stays as it is
    ask(page, "Again?")
    expect(refusal).to_have_text("GPT-4o is not available to your tier (Interns).")
    expect(page.get_by_label("Message")).to_have_value("Again?")  # nothing typed is lost
    assert len(fake_upstream.requests) == 1


FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const name = element.getAttribute("aria-label") || element.labels?.[0]?.textContent
    || element.textContent.trim().split("\\n")[0] || element.id;
  const shown = style.boxShadow !== "none" || style.outlineStyle !== "none";
  // Its words in another colour than its own background (a red Delete on red was one).
  const readable = style.color !== style.backgroundColor;
  return [element.tagName.toLowerCase(), name.trim(), shown && readable];
}"""


def test_tab_reaches_every_control_of_the_chat_with_its_focus_visible(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = ["```\ncode\n```\n"]
    log_in(page, asgi_server, "alice")
    ask(page, "Say hello")
    expect(answer(page)).to_have_attribute("data-status", "done")
    page.reload()

    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = tuple(page.evaluate(FOCUSED))
        if focused[0] == "body":  # past the last control: the browser's own turn
            break
        reached.append(focused)

    hidden = [(tag, name) for tag, name, shown in reached if not shown]
    assert hidden == [], f"focused without a visible mark, or unreadable: {hidden}"
    names = {name for _, name, _ in reached}
    for control in (
        "Switchboard",
        "New chat",
        "Search chats",
        "Say hello",  # the chat in the list
        "Title",
        "Rename",
        "Markdown",
        "JSON",
        "Delete",
        "System prompt: none",
        "Edit",
        "Copy this code",
        "Copy",
        "Regenerate",
        "Model",
        "Message",
        "Enter sends · Shift+Enter for a new line · more keys",
        "Send",
    ):
        assert control in names, f"{control!r} is not reached by Tab: {sorted(names)}"
