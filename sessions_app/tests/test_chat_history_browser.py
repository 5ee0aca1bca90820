"""A chat's history in Chromium: an answer asked for again and a question edited keep
the earlier ones, one click away ("1 / 2"), and what goes upstream is the branch shown;
the chat's own system prompt reaches the upstream and stays on each answer; search
finds a message and opens the chat at it; export downloads the chat with its audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from fakes.upstream import FakeUpstream
from providers.tests.factories import make_fake_provider, make_model

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["gpt-4o"]
    make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


def ask(page: Page, text: str, reply: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply = [reply]
    answers = page.locator('article[data-role="assistant"]')
    before = answers.count()
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(answers).to_have_count(before + 1)
    expect(last_answer(page)).to_have_attribute("data-status", "done")


def last_answer(page: Page):
    return page.locator('article[data-role="assistant"]').last


def sent(fake_upstream: FakeUpstream) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake_upstream.requests[-1].body["messages"]]


def test_regenerate_keeps_the_earlier_answer_as_a_version_the_chat_can_go_back_to(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Hi", "First answer", fake_upstream)
    fake_upstream.reply = ["Second answer"]

    last_answer(page).get_by_role("button", name="Regenerate").click()

    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(last_answer(page)).to_contain_text("Second answer")
    expect(page.locator('article[data-role="assistant"]')).to_have_count(1)
    versions = page.locator("#messages .versions")
    expect(versions.locator(".position")).to_have_text("2 / 2")

    versions.get_by_role("button", name="Previous version").click()

    expect(last_answer(page)).to_contain_text("First answer")
    expect(versions.locator(".position")).to_have_text("1 / 2")
    expect(versions.get_by_role("button", name="Previous version")).to_be_disabled()
    ask(page, "And then?", "Third answer", fake_upstream)
    assert sent(fake_upstream) == [
        ("user", "Hi"),
        ("assistant", "First answer"),
        ("user", "And then?"),
    ]
    page.reload()  # the version chosen is the chat's, not the page's
    expect(page.locator("#messages")).to_contain_text("First answer")
    expect(page.locator("#messages")).not_to_contain_text("Second answer")


def test_an_edited_question_continues_from_there_and_the_old_branch_stays(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Name a colour", "Red", fake_upstream)
    ask(page, "Another one", "Blue", fake_upstream)
    first_question = page.locator('article[data-role="user"]').first

    first_question.get_by_role("link", name="Edit").click()
    box = page.get_by_label("Edit your message")
    expect(box).to_have_value("Name a colour")
    page.get_by_role("link", name="Cancel").click()  # Cancel puts the question back
    expect(box).to_have_count(0)
    expect(page.locator('article[data-role="user"]').first).to_have_text("Name a colour\nEdit")

    page.locator('article[data-role="user"]').first.get_by_role("link", name="Edit").click()
    fake_upstream.reply = ["Apple"]
    box.fill("Name a fruit")
    box.press("Enter")

    expect(last_answer(page)).to_contain_text("Apple")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    assert sent(fake_upstream) == [("user", "Name a fruit")]
    expect(page.locator("#messages")).not_to_contain_text("Blue")
    question_versions = page.locator("#messages > .chat-message").first.locator(".versions")
    expect(question_versions.locator(".position")).to_have_text("2 / 2")

    question_versions.get_by_role("button", name="Previous version").click()

    expect(page.locator('article[data-role="user"]')).to_have_count(2)
    expect(page.locator("#messages")).to_contain_text("Name a colour")
    expect(last_answer(page)).to_contain_text("Blue")


def test_the_chats_system_prompt_reaches_the_upstream_and_stays_on_the_answer(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Hi", "Hello!", fake_upstream)
    page.locator(".system-prompt summary").click()
    page.get_by_label("System prompt of this chat").fill("Answer like a pirate.")
    page.locator(".system-prompt").get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("System prompt saved")
    expect(page.locator(".system-prompt summary")).to_contain_text("Answer like a pirate.")
    ask(page, "Where is the gold?", "Arr!", fake_upstream)

    assert sent(fake_upstream)[0] == ("system", "Answer like a pirate.")
    badge = last_answer(page).locator(".audit .badge", has_text="system prompt")
    expect(badge).to_have_attribute("title", "Answer like a pirate.")
    first = page.locator('article[data-role="assistant"]').first
    expect(first.locator(".badge", has_text="system prompt")).to_have_count(0)


def test_search_finds_a_message_on_another_branch_and_opens_the_chat_there(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Tell me about otters", "Otters hold hands while they sleep.", fake_upstream)
    fake_upstream.reply = ["Otters are weasels."]
    last_answer(page).get_by_role("button", name="Regenerate").click()
    expect(last_answer(page)).to_contain_text("weasels")
    chat_url = page.url
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(lambda url: url != chat_url)

    page.get_by_role("searchbox", name="Search chats").press_sequentially("hold hands")

    result = page.locator(".search-results a", has_text="hold hands")
    # Full-text search marks the words it matched; the substring fallback the phrase.
    marks = ["hold", "hands"] if connection.vendor == "postgresql" else ["hold hands"]
    expect(result.locator("mark")).to_have_text(marks)
    expect(result.locator(".chat-title")).to_have_text("Tell me about otters")
    result.click()
    expect(last_answer(page)).to_contain_text("Otters hold hands")
    expect(page.locator("#messages")).not_to_contain_text("weasels")
    expect(page.locator(".chat-message:target")).to_be_in_viewport()
    expect(page.locator(".chat-message:target .versions .position")).to_have_text("1 / 2")


def test_export_downloads_the_chat_as_markdown_and_json_with_the_audit(
    user: User, model: None, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    log_in(page, asgi_server, "alice")
    ask(page, "Name a river", "The Tagus.", fake_upstream)

    with page.expect_download() as markdown:
        page.get_by_role("link", name="Markdown").click()
    with page.expect_download() as document:
        page.get_by_role("link", name="JSON").click()

    assert markdown.value.suggested_filename.startswith("name-a-river-")
    text = Path(markdown.value.path()).read_text()
    assert "## You\n\nName a river" in text
    assert "## GPT-4o\n\n*model `gpt-4o` · provider Fake OpenAI · first token" in text
    assert "The Tagus." in text
    exported = json.loads(Path(document.value.path()).read_text())
    answer = exported["messages"][-1]
    assert (answer["model_id"], answer["provider"], answer["content"]) == (
        "gpt-4o",
        "Fake OpenAI",
        "The Tagus.",
    )
    assert answer["latency_ms"] > 0
    assert answer["output_tokens"] == 1  # the fake counts a reply part as a token
