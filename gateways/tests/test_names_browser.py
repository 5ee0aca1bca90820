"""The model names page in Chromium against the app under uvicorn: pending renames and
deletions, the count on Save, the confirmation's wording, the warning on leaving, the
keyboard, one-click restore, and a 404 for non-staff (the `page` fixture also fails a
test on any Content-Security-Policy violation)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Dialog, Page, expect

from accounts.tests.browser import log_in
from providers.models import LLMModel, Provider
from providers.tests.factories import make_model, make_openrouter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def openrouter(staff: User) -> Provider:
    provider = make_openrouter()
    for model_id in ("deepseek/deepseek-chat", "openai/gpt-4o", "qwen/qwen-2.5-72b"):
        make_model(provider, model_id=model_id)
    return provider


def names_path(provider: Provider) -> str:
    return f"/gateways/providers/{provider.pk}/names/"


def name_input(page: Page, model_id: str):
    return page.get_by_label(f"Gateway name of {model_id}")


def row(page: Page, model_id: str):
    return page.locator("tr", has=page.get_by_text(model_id, exact=True))


def open_confirmation(page: Page) -> None:
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog", name="Save these changes?")).to_be_visible()


def test_pending_edits_count_revert_and_save_in_one_batch(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", names_path(openrouter))
    save = page.get_by_role("button", name="Save changes")
    expect(save).to_be_hidden()

    name_input(page, "deepseek/deepseek-chat").fill("deepseek-chat")
    expect(row(page, "deepseek/deepseek-chat")).to_have_class("is-edited")
    expect(save).to_have_text("Save changes (1)")
    open_confirmation(page)
    expect(page.get_by_role("dialog")).to_contain_text("Save 1 rename?")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(save).to_have_text("Save changes (1)")  # Cancel keeps them pending

    page.get_by_role("button", name="Delete openai/gpt-4o").click()
    marked = row(page, "openai/gpt-4o")
    expect(marked).to_have_class("is-marked")
    expect(name_input(page, "openai/gpt-4o")).to_be_disabled()
    expect(marked.get_by_text("will be deleted")).to_be_visible()
    expect(save).to_have_text("Save changes (2)")
    open_confirmation(page)
    expect(page.get_by_role("dialog")).to_contain_text("Save 1 rename, 1 deletion?")
    page.get_by_role("button", name="Cancel").click()

    name_input(page, "deepseek/deepseek-chat").fill("")  # back to what is stored
    expect(save).to_have_text("Save changes (1)")
    open_confirmation(page)
    expect(page.get_by_role("dialog")).to_contain_text("Save 1 deletion?")
    page.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Revert openai/gpt-4o").click()
    expect(marked).not_to_have_class("is-marked")
    expect(name_input(page, "openai/gpt-4o")).to_be_enabled()
    expect(save).to_be_hidden()

    name_input(page, "openai/gpt-4o").fill("gpt-4o")
    name_input(page, "qwen/qwen-2.5-72b").fill("qwen-2.5-72b")
    page.get_by_role("button", name="Delete deepseek/deepseek-chat").click()
    open_confirmation(page)
    expect(page.get_by_role("dialog")).to_contain_text("Save 2 renames, 1 deletion?")
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("status")).to_have_text(
        "Saved: 2 renames, 1 deletion. Sync pushes the names to the gateways."
    )
    expect(save).to_be_hidden()
    assert dict(LLMModel.objects.live().values_list("model_id", "gateway_name")) == {
        "openai/gpt-4o": "gpt-4o",
        "qwen/qwen-2.5-72b": "qwen-2.5-72b",
    }
    expect(row(page, "deepseek/deepseek-chat")).to_have_class("is-deleted")
    expect(page.get_by_role("region", name="Gateway plan")).to_contain_text(
        "gpt-4o → openai/gpt-4o"
    )


def test_a_refused_row_is_named_and_every_change_stays_pending(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", names_path(openrouter))

    name_input(page, "qwen/qwen-2.5-72b").fill("renamed")
    name_input(page, "deepseek/deepseek-chat").fill("openai/gpt-4o")  # another model's id
    open_confirmation(page)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    expect(page.get_by_role("alert")).to_contain_text(
        "deepseek/deepseek-chat: OpenRouter already serves openai/gpt-4o"
    )
    expect(name_input(page, "deepseek/deepseek-chat")).to_have_attribute("aria-invalid", "true")
    expect(name_input(page, "qwen/qwen-2.5-72b")).to_have_value("renamed")
    expect(page.get_by_role("button", name="Save changes")).to_have_text("Save changes (2)")
    assert set(LLMModel.objects.values_list("gateway_name", flat=True)) == {""}


def test_deleting_every_model_asks_a_second_time(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", names_path(openrouter))

    for model_id in ("deepseek/deepseek-chat", "openai/gpt-4o", "qwen/qwen-2.5-72b"):
        page.get_by_role("button", name=f"Delete {model_id}").click()
    open_confirmation(page)
    expect(page.get_by_role("dialog")).to_contain_text("Save 3 deletions?")
    page.get_by_role("button", name="Confirm").click()
    second = page.get_by_role("dialog", name="Delete every model of OpenRouter?")
    expect(second).to_contain_text("This deletes every model of OpenRouter")
    second.get_by_role("button", name="Cancel").click()
    assert LLMModel.objects.live().count() == 3

    open_confirmation(page)
    page.get_by_role("button", name="Confirm").click()
    second.get_by_role("button", name="Delete every model").click()

    expect(page.get_by_role("status")).to_contain_text("Saved: 3 deletions.")
    assert LLMModel.objects.live().count() == 0


def test_leaving_with_pending_changes_warns(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", names_path(openrouter))
    dialogs: list[str] = []

    def stay(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    name_input(page, "openai/gpt-4o").click()  # a real gesture: Chromium asks only after one
    page.keyboard.type("gpt-4o")
    page.get_by_role("link", name="Chats").click()

    expect(name_input(page, "openai/gpt-4o")).to_have_value("gpt-4o")
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(names_path(openrouter))

    page.get_by_role("button", name="Reset openai/gpt-4o to its original id").click()
    page.get_by_role("link", name="Chats").click()
    page.wait_for_url(f"{asgi_server}/")
    assert dialogs == ["beforeunload"]  # nothing pending: no question


def test_the_page_works_from_the_keyboard_with_visible_focus(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", names_path(openrouter))

    name_input(page, "deepseek/deepseek-chat").focus()
    page.keyboard.type("deepseek-chat")
    page.keyboard.press("Tab")  # Reset
    page.keyboard.press("Tab")  # Delete
    focused = page.locator(":focus")
    expect(focused).to_have_accessible_name("Delete deepseek/deepseek-chat")
    shadow = focused.evaluate("(element) => getComputedStyle(element).boxShadow")
    assert shadow != "none"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")  # back past the input to the Save button
    expect(page.locator(":focus")).to_have_text("Save changes (1)")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Save these changes?")
    expect(dialog).to_be_visible()
    expect(page.locator(":focus")).to_have_accessible_name("Confirm")  # the first control
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Saved: 1 rename.")
    assert LLMModel.objects.get(model_id="deepseek/deepseek-chat").gateway_name == "deepseek-chat"


def test_a_deleted_model_is_restored_with_one_click(
    openrouter: Provider, asgi_server: str, page: Page
) -> None:
    LLMModel.objects.filter(model_id="openai/gpt-4o").update(deleted_at="2026-11-30T10:00:00Z")
    log_in(page, asgi_server, "charlie", names_path(openrouter))
    plan = page.get_by_role("region", name="Gateway plan")
    expect(plan).not_to_contain_text("openai/gpt-4o")

    page.get_by_role("button", name="Restore openai/gpt-4o").click()

    expect(name_input(page, "openai/gpt-4o")).to_be_enabled()
    expect(plan).to_contain_text("openai/gpt-4o")
    expect(page.get_by_role("button", name="Save changes")).to_be_hidden()
    assert LLMModel.objects.get(model_id="openai/gpt-4o").deleted_at is None


def test_someone_not_staff_gets_a_404(
    openrouter: Provider, user: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "alice")

    response = page.goto(f"{asgi_server}{names_path(openrouter)}")

    assert response is not None
    assert response.status == 404
