"""Gateway names: one per model of a provider, edited in batches, deleted and restored."""

from __future__ import annotations

from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from gateways import names, offers
from providers.models import LLMModel
from providers.tests.concurrency import race
from providers.tests.factories import (
    make_anthropic_provider,
    make_model,
    make_openrouter,
    make_provider,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def openrouter():
    return make_openrouter()


def test_a_gateway_name_another_model_of_the_provider_has_is_refused_naming_it(openrouter):
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    twin = LLMModel(
        provider=openrouter, model_id="deepseek/deepseek-chat-v3", gateway_name="deepseek-chat"
    )

    with pytest.raises(ValidationError) as refused:
        twin.full_clean()

    (message,) = refused.value.message_dict["gateway_name"]
    assert "OpenRouter already serves deepseek-chat" in message
    assert "deepseek/deepseek-chat;" in message


def test_a_gateway_name_equal_to_another_models_id_is_refused_too(openrouter):
    make_model(openrouter, model_id="gpt-4o")
    other = LLMModel(provider=openrouter, model_id="openai/gpt-4o", gateway_name="gpt-4o")

    with pytest.raises(ValidationError, match="as its model gpt-4o"):
        other.full_clean()


def test_the_database_holds_the_rule_when_a_check_is_skipped(openrouter):
    make_model(openrouter, model_id="a", gateway_name="x")

    with pytest.raises(IntegrityError), transaction.atomic():
        LLMModel.objects.create(provider=openrouter, model_id="b", gateway_name="x")


def test_another_provider_may_use_the_same_name(openrouter):
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    deepseek = make_provider(
        name="DeepSeek", preset="deepseek", base_url="https://api.deepseek.com/v1"
    )

    make_model(deepseek, model_id="deepseek-chat")  # no error


def test_a_deleted_model_frees_its_name_and_is_refused_back_while_it_is_taken(openrouter):
    old = make_model(openrouter, model_id="old", gateway_name="chat")
    names.save(openrouter, {old.pk: names.Edit(delete=True)}, every_model_confirmed=True)
    new = make_model(openrouter, model_id="new", gateway_name="chat")

    with pytest.raises(ValidationError, match="as its model new"):
        LLMModel.objects.get(pk=old.pk).restore()
    new.delete()
    LLMModel.objects.get(pk=old.pk).restore()

    assert LLMModel.objects.get(pk=old.pk).deleted_at is None


@pytest.mark.parametrize(
    "bad", ["has space", "star*", "a,b", "-leading", "ünïcode", "x" * 201, "tab\there"]
)
def test_gateway_names_follow_the_gateways_rule(openrouter, bad):
    model = LLMModel(provider=openrouter, model_id="m", gateway_name=bad)

    with pytest.raises(ValidationError) as refused:
        model.full_clean()

    assert (
        "ASCII letters, digits and . _ - / : @ +" in refused.value.message_dict["gateway_name"][0]
    )


@pytest.mark.parametrize("good", ["gpt-4.1", "deepseek/deepseek-chat", "qwen2.5:7b", "a@b+c_d"])
def test_real_model_names_are_accepted(openrouter, good):
    LLMModel(provider=openrouter, model_id="m", gateway_name=good).full_clean()


def test_a_name_freed_by_a_deletion_in_the_same_batch_can_be_taken(openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")

    outcome = names.save(
        openrouter,
        {a.pk: names.Edit(gateway_name="b"), b.pk: names.Edit(delete=True)},
        every_model_confirmed=False,
    )

    assert outcome.summary() == "1 rename, 1 deletion"
    assert LLMModel.objects.live().get().effective_gateway_name == "b"


def test_a_batch_swapping_two_names_applies(openrouter):
    a = make_model(openrouter, model_id="a", gateway_name="x")
    b = make_model(openrouter, model_id="b", gateway_name="y")

    outcome = names.save(
        openrouter,
        {a.pk: names.Edit(gateway_name="y"), b.pk: names.Edit(gateway_name="x")},
        every_model_confirmed=False,
    )

    assert outcome.summary() == "2 renames"
    assert dict(LLMModel.objects.values_list("model_id", "gateway_name")) == {"a": "y", "b": "x"}


def test_a_batch_with_one_refused_row_changes_nothing_and_names_the_row(openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")
    make_model(openrouter, model_id="c")
    d = make_model(openrouter, model_id="d")

    with pytest.raises(names.NamesRefused) as refused:
        names.save(
            openrouter,
            {
                a.pk: names.Edit(gateway_name="fine"),
                b.pk: names.Edit(gateway_name="c"),  # c's own id
                d.pk: names.Edit(delete=True),
            },
            every_model_confirmed=False,
        )

    assert list(refused.value.rows) == [b.pk]
    assert "b: OpenRouter already serves c" in refused.value.rows[b.pk]
    assert set(LLMModel.objects.values_list("gateway_name", "deleted_at")) == {("", None)}


def test_resetting_to_the_original_id_stores_no_name(openrouter):
    model = make_model(openrouter, model_id="openai/gpt-4o", gateway_name="gpt-4o")

    for reset in ("", "openai/gpt-4o"):
        LLMModel.objects.filter(pk=model.pk).update(gateway_name="gpt-4o")
        outcome = names.save(
            openrouter, {model.pk: names.Edit(gateway_name=reset)}, every_model_confirmed=False
        )
        assert outcome.summary() == "1 rename"
        assert LLMModel.objects.get(pk=model.pk).gateway_name == ""


def test_deleting_every_model_needs_its_own_confirmation(openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")
    both = {a.pk: names.Edit(delete=True), b.pk: names.Edit(delete=True)}

    with pytest.raises(names.DeletesEveryModel, match="deletes every model of OpenRouter"):
        names.save(openrouter, both, every_model_confirmed=False)
    assert not LLMModel.objects.exclude(deleted_at=None).exists()

    assert names.save(openrouter, both, every_model_confirmed=True).summary() == "2 deletions"
    assert LLMModel.objects.live().count() == 0
    assert LLMModel.objects.count() == 2  # kept for history


def test_deleted_models_leave_the_picker_and_the_plan_but_not_the_records(openrouter, user):
    from providers import access

    kept = make_model(openrouter, model_id="kept")
    gone = make_model(openrouter, model_id="gone")
    names.save(openrouter, {gone.pk: names.Edit(delete=True)}, every_model_confirmed=False)

    assert list(access.available_models(user).values_list("model_id", flat=True)) == ["kept"]
    assert [o.model_id for o in offers.offers()] == ["kept"]
    assert LLMModel.objects.filter(pk=gone.pk).exists()
    assert kept.pk


def test_the_plan_reads_live_enabled_models_of_enabled_providers_only(openrouter):
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    make_model(openrouter, model_id="off", enabled=False)
    anthropic = make_anthropic_provider(enabled=False)
    make_model(anthropic, model_id="claude-sonnet-4")

    plan = offers.current_plan()

    assert [(g.name, g.redirects) for g in plan.groups] == [
        ("openrouter", (("deepseek-chat", "deepseek/deepseek-chat"),))
    ]


# --- the page ---------------------------------------------------------------------------


def page_url(provider):
    return reverse("gateways:model_names", args=[provider.pk])


def test_the_page_is_a_404_to_non_staff(client, user, openrouter):
    client.force_login(user)

    assert client.get(page_url(openrouter)).status_code == 404
    assert client.post(page_url(openrouter), {}).status_code == 404


def test_the_page_lists_the_models_with_shared_names_highlighted(staff_client, openrouter):
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    deepseek = make_provider(
        name="DeepSeek", preset="deepseek", base_url="https://api.deepseek.com/v1"
    )
    make_model(deepseek, model_id="deepseek-chat")

    html = staff_client.get(page_url(openrouter)).content.decode()

    assert 'value="deepseek-chat"' in html
    assert "Also at DeepSeek" in html
    assert "deepseek-1-deepseek-chat" in html  # the plan panel
    assert "openrouter-2-deepseek-chat" in html
    assert "<td>Added by hand</td>" in html  # how each came, in words


def test_a_refused_batch_keeps_every_posted_change_pending(staff_client, openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")

    response = staff_client.post(
        page_url(openrouter),
        {f"name-{a.pk}": "renamed", f"name-{b.pk}": "bad name"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert "Nothing was saved." in html
    assert 'value="renamed"' in html
    assert 'value="bad name"' in html
    assert f'id="error-{b.pk}"' in html
    assert set(LLMModel.objects.values_list("gateway_name", flat=True)) == {""}


def test_a_saved_batch_says_what_changed(staff_client, openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")

    response = staff_client.post(
        page_url(openrouter),
        {f"name-{a.pk}": "x", f"delete-{b.pk}": "1"},
        headers={"HX-Request": "true"},
    )

    assert (
        "Saved: 1 rename, 1 deletion. Sync pushes the names to the gateways."
        in response.content.decode()
    )


def test_restore_is_one_post(staff_client, openrouter):
    model = make_model(openrouter, model_id="a")
    names.save(openrouter, {model.pk: names.Edit(delete=True)}, every_model_confirmed=True)

    response = staff_client.post(reverse("gateways:restore", args=[model.pk]))

    assert response.status_code == 200
    assert LLMModel.objects.get(pk=model.pk).deleted_at is None
    assert 'hx-swap-oob="true"' in response.content.decode()


def reading_the_models(sql: str) -> bool:
    return sql.startswith("SELECT") and 'FROM "providers_llmmodel"' in sql


@pytest.mark.django_db(transaction=True)
def test_two_batches_taking_one_name_at_once_save_one_and_name_it_to_the_other(openrouter):
    a = make_model(openrouter, model_id="a")
    b = make_model(openrouter, model_id="b")

    def rename(model):
        return partial(
            names.save,
            openrouter,
            {model.pk: names.Edit(gateway_name="x")},
            every_model_confirmed=False,
        )

    # Each stops before it reads the models until the other got as far: without the
    # provider's lock both would read, both pass the check, and the index refuse one late.
    errors = race((rename(a), reading_the_models), (rename(b), reading_the_models))

    refused = [e for e in errors if e is not None]
    assert len(refused) == 1
    assert isinstance(refused[0], names.NamesRefused)
    (message,) = refused[0].rows.values()
    assert "OpenRouter already serves x to the gateways as its model" in message
    assert LLMModel.objects.filter(gateway_name="x").count() == 1
