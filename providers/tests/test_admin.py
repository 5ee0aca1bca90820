"""The provider and model admin, driven through real requests as a staff member would."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.fixtures import Settings

from providers.admin import LLMModelAdmin
from providers.keys.encryption import UNREADABLE_LABEL
from providers.models import LLMModel, Provider
from providers.tests.factories import ANTHROPIC_KEY, OPENAI_KEY, make_model, make_provider
from providers.tests.html_forms import form_fields
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db

NEW_KEY = "sk-proj-FAKE.new.gateway.key.9999"


def change_url(provider: Provider) -> str:
    return reverse("admin:providers_provider_change", args=[provider.pk])


def post_change(client: Client, provider: Provider, **changes: Any) -> Any:
    """Submit the provider's change form as rendered, with `changes` typed in."""
    page = client.get(change_url(provider)).content.decode()
    data = form_fields(page, "provider_form") | changes
    return client.post(change_url(provider), {k: v for k, v in data.items() if v is not None})


def reload(provider: Provider) -> Provider:
    return Provider.objects.get(pk=provider.pk)


def test_the_list_shows_the_key_masked_and_never_raw(staff_client: Client) -> None:
    make_provider(api_key=OPENAI_KEY)

    response = staff_client.get(reverse("admin:providers_provider_changelist"))

    assert response.status_code == 200
    assert "sk-…234" in response.content.decode()
    assert OPENAI_KEY.encode() not in response.content
    assert OPENAI_KEY[5:15].encode() not in response.content


def test_the_list_counts_models_and_filters_and_searches(staff_client: Client) -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o")
    make_model(openai, model_id="gpt-4o-mini")
    url = reverse("admin:providers_provider_changelist")

    listed = staff_client.get(url)
    filtered = staff_client.get(url, {"preset__exact": "anthropic"})
    searched = staff_client.get(url, {"q": "openai"})

    assert '<td class="field-model_count">2</td>' in listed.content.decode()
    assert filtered.context["cl"].result_count == 0
    assert searched.context["cl"].result_count == 1


def test_the_change_form_shows_the_key_masked_in_an_empty_password_input(
    staff_client: Client,
) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = staff_client.get(change_url(provider))

    html = response.content.decode()
    assert OPENAI_KEY.encode() not in response.content
    assert "Stored: sk-…234. Leave blank to keep it." in html
    assert '<input type="password" name="api_key"' in html
    assert form_fields(html, "provider_form")["api_key"] == ""


def test_saving_with_the_key_left_blank_keeps_it(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)
    token = provider.api_key.token()

    response = post_change(staff_client, provider, name="OpenAI (team)")

    assert response.status_code == 302
    saved = reload(provider)
    assert saved.name == "OpenAI (team)"
    assert saved.api_key.token() == token


def test_a_new_key_replaces_the_stored_one(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(staff_client, provider, api_key=NEW_KEY)

    assert response.status_code == 302
    assert reload(provider).api_key.reveal() == NEW_KEY


def test_clear_key_removes_it(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY, enabled=False)

    response = post_change(staff_client, provider, clear_api_key="on")

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:providers_provider_changelist")
    assert not reload(provider).api_key


def test_clearing_and_entering_a_key_at_once_is_refused(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(staff_client, provider, api_key=NEW_KEY, clear_api_key="on")

    assert response.status_code == 200
    assert "Enter a new key or clear the stored one, not both." in response.content.decode()
    assert NEW_KEY.encode() not in response.content  # a re-shown form does not echo it
    assert reload(provider).api_key.reveal() == OPENAI_KEY


def test_clearing_the_key_of_an_enabled_provider_is_refused(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(staff_client, provider, clear_api_key="on")

    assert "OpenAI needs an API key before this provider can be enabled." in (
        response.content.decode()
    )
    assert reload(provider).api_key


def test_a_new_host_without_the_key_re_entered_is_refused(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(staff_client, provider, base_url="https://collector.example.net/v1")

    assert response.status_code == 200
    assert (
        "Re-enter the API key to point this provider at collector.example.net"
        in response.content.decode()
    )
    assert reload(provider).base_url == "https://api.openai.com/v1"


def test_a_new_host_with_the_key_re_entered_is_saved(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(
        staff_client, provider, base_url="https://gateway.example.net/v1", api_key=NEW_KEY
    )

    assert response.status_code == 302
    saved = reload(provider)
    assert (saved.base_url, saved.api_key.reveal()) == ("https://gateway.example.net/v1", NEW_KEY)


def test_a_bad_key_is_refused_without_echoing_it(staff_client: Client) -> None:
    provider = make_provider()
    bad = "sk-proj-has a space-inside-it-0123456789"

    response = post_change(staff_client, provider, api_key=bad)

    assert "An API key has no spaces or line breaks inside it." in response.content.decode()
    assert bad.encode() not in response.content


def test_a_key_with_another_vendors_prefix_is_saved_with_a_warning(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    response = post_change(staff_client, provider, api_key=ANTHROPIC_KEY)
    page = staff_client.get(response["Location"])

    assert "the prefix of Anthropic keys" in page.content.decode()
    assert ANTHROPIC_KEY.encode() not in page.content
    assert reload(provider).api_key.reveal() == ANTHROPIC_KEY


def test_the_history_records_that_the_key_changed_but_not_the_key(staff_client: Client) -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    post_change(staff_client, provider, api_key=NEW_KEY)

    entry = LogEntry.objects.get(object_id=str(provider.pk))
    assert "API key" in entry.get_change_message()
    assert NEW_KEY not in entry.change_message + entry.object_repr
    history = staff_client.get(reverse("admin:providers_provider_history", args=[provider.pk]))
    assert history.status_code == 200
    assert "<td>Changed API key.</td>" in history.content.decode()
    assert NEW_KEY.encode() not in history.content


def test_an_unreadable_key_shows_a_hint_and_the_pages_still_work(
    staff_client: Client, settings
) -> None:
    provider = make_provider(api_key=OPENAI_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    listing = staff_client.get(reverse("admin:providers_provider_changelist"))
    form = staff_client.get(change_url(provider))

    assert UNREADABLE_LABEL in listing.content.decode()
    assert form.status_code == 200
    assert UNREADABLE_LABEL in form.content.decode()


def test_an_unreadable_key_can_be_re_entered(staff_client: Client, settings) -> None:
    provider = make_provider(api_key=OPENAI_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    response = post_change(staff_client, provider, api_key=NEW_KEY)

    assert response.status_code == 302
    assert reload(provider).api_key.reveal() == NEW_KEY


def test_the_add_form_carries_the_presets_for_prefilling(staff_client: Client) -> None:
    response = staff_client.get(reverse("admin:providers_provider_add"))

    html = response.content.decode()
    assert "/static/js/preset_prefill" in html
    assert "data-presets=" in html
    assert "https://api.anthropic.com" in html


def test_adding_with_a_preset_and_no_url_takes_the_presets_url(staff_client: Client) -> None:
    url = reverse("admin:providers_provider_add")
    data = form_fields(staff_client.get(url).content.decode(), "provider_form") | {
        "name": "Groq",
        "preset": "groq",
        "api_key": "gsk_" + "k" * 40,
        "enabled": "on",
    }

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    groq = Provider.objects.get(name="Groq")
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.api_key.reveal() == "gsk_" + "k" * 40


def test_adding_models_inline_with_two_defaults_is_refused(staff_client: Client) -> None:
    provider = make_provider()

    response = post_change(
        staff_client,
        provider,
        **{
            "models-TOTAL_FORMS": "2",
            "models-0-model_id": "gpt-4o",
            "models-0-enabled": "on",
            "models-0-is_default": "on",
            "models-1-model_id": "gpt-4o-mini",
            "models-1-enabled": "on",
            "models-1-is_default": "on",
            "models-1-provider": str(provider.pk),
        },
    )

    assert response.status_code == 200
    assert (
        "OpenAI can have only one default model, but these are all marked: gpt-4o, gpt-4o-mini."
        in response.content.decode()
    )
    assert not LLMModel.objects.exists()


def test_moving_the_default_inline_in_one_save_works(staff_client: Client) -> None:
    provider = make_provider()
    old = make_model(provider, model_id="gpt-4o", is_default=True)
    new = make_model(provider, model_id="gpt-4o-mini")

    response = post_change(
        staff_client, provider, **{"models-0-is_default": None, "models-1-is_default": "on"}
    )

    assert response.status_code == 302
    assert LLMModel.objects.get(is_default=True) == new
    assert old.pk != new.pk


def model_changelist(client: Client, **changes: Any) -> Any:
    url = reverse("admin:providers_llmmodel_changelist")
    data = form_fields(client.get(url).content.decode(), "changelist-form") | changes
    data["_save"] = "Save"
    return client.post(url, {k: v for k, v in data.items() if v is not None})


def test_the_model_list_makes_as_many_queries_for_many_models_as_for_a_few(
    staff_client: Client,
) -> None:
    url = reverse("admin:providers_llmmodel_changelist")
    make_model(make_provider(), model_id="gpt-4o", is_default=True)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)

    for p in range(3):
        provider = make_provider(name=f"Provider {p}", base_url=f"https://p{p}.example.com/v1")
        LLMModel.objects.bulk_create(
            LLMModel(provider=provider, model_id=f"model-{m}", is_default=m == 0) for m in range(60)
        )
    with CaptureQueriesContext(connection) as many:
        page = staff_client.get(url).content.decode()

    assert len(many) == len(few)
    assert page.count('name="_selected_action"') == LLMModelAdmin.list_per_page


def test_the_model_list_edits_enabled_and_default_in_place(staff_client: Client) -> None:
    provider = make_provider()
    first = make_model(provider, model_id="gpt-4o", is_default=True)
    second = make_model(provider, model_id="gpt-4o-mini")

    # Rows are ordered by model id: form-0 is gpt-4o, form-1 is gpt-4o-mini.
    response = model_changelist(
        staff_client,
        **{"form-0-is_default": None, "form-0-enabled": None, "form-1-is_default": "on"},
    )

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, first.enabled, second.is_default) == (False, False, True)


def test_the_model_list_refuses_two_defaults(staff_client: Client) -> None:
    provider = make_provider()
    make_model(provider, model_id="gpt-4o", is_default=True)
    make_model(provider, model_id="gpt-4o-mini")

    response = model_changelist(staff_client, **{"form-1-is_default": "on"})

    assert response.status_code == 200
    assert "OpenAI can have only one default model" in response.content.decode()
    assert LLMModel.objects.get(is_default=True).model_id == "gpt-4o"


def test_the_model_list_refuses_a_default_beside_one_on_another_page(
    staff_client: Client,
) -> None:
    provider = make_provider()
    make_model(provider, model_id="gpt-4o", is_default=True)
    make_model(provider, model_id="o3")
    url = reverse("admin:providers_llmmodel_changelist") + "?q=o3"
    data = form_fields(staff_client.get(url).content.decode(), "changelist-form")

    response = staff_client.post(url, data | {"form-0-is_default": "on", "_save": "Save"})

    assert "OpenAI can have only one default model" in response.content.decode()


def test_the_model_change_form_refuses_a_second_default(staff_client: Client) -> None:
    provider = make_provider()
    make_model(provider, model_id="gpt-4o", display_name="GPT-4o", is_default=True)
    other = make_model(provider, model_id="gpt-4o-mini")
    url = reverse("admin:providers_llmmodel_change", args=[other.pk])
    data = form_fields(staff_client.get(url).content.decode(), "llmmodel_form")

    response = staff_client.post(url, data | {"is_default": "on"})

    assert "GPT-4o is already the default model of OpenAI; untick it first." in (
        response.content.decode()
    )


def test_the_model_change_form_checks_settings(staff_client: Client) -> None:
    model = make_model(make_provider())
    url = reverse("admin:providers_llmmodel_change", args=[model.pk])
    data = form_fields(staff_client.get(url).content.decode(), "llmmodel_form")

    bad_json = staff_client.post(url, data | {"settings": "{temperature: 1"})
    bad_value = staff_client.post(url, data | {"settings": '{"temperature": 7}'})

    assert "Enter a valid JSON." in bad_json.content.decode()
    assert "temperature: must be a number between 0 and 2" in bad_value.content.decode()


def test_the_model_list_searches_by_model_id(staff_client: Client) -> None:
    provider = make_provider()
    make_model(provider, model_id="gpt-4o")
    make_model(provider, model_id="o3-mini")

    response = staff_client.get(reverse("admin:providers_llmmodel_changelist"), {"q": "o3"})

    assert response.context["cl"].result_count == 1


def test_no_log_record_carries_the_key(staff_client: Client, caplog) -> None:
    provider = make_provider(api_key=OPENAI_KEY)
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="django")  # Django caps its loggers at INFO

    with CaptureQueriesContext(connection):  # logs every SQL statement with its parameters
        post_change(staff_client, provider, api_key=NEW_KEY)
        post_change(staff_client, provider, api_key="sk-bad key with spaces-0123456789")
        staff_client.get(reverse("admin:providers_provider_changelist"))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "UPDATE" in logged  # the key's own write is in the log, so the check has teeth
    assert NEW_KEY not in logged
    assert OPENAI_KEY not in logged
    assert "sk-bad key" not in logged


def test_adding_a_tier_in_the_admin_creates_its_group(staff_client: Client) -> None:
    from django.contrib.auth.models import Group

    from providers.models import Tier

    url = reverse("admin:providers_tier_add")
    data = form_fields(staff_client.get(url).content.decode(), "tier_form") | {
        "name": "Research",
        "daily_token_quota": "100000",
    }

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert Tier.objects.get().group == Group.objects.get(name="Research")


def test_a_model_lists_its_allowed_tiers(staff_client: Client) -> None:
    from providers.models import Tier

    model = make_model(make_provider())
    tier = Tier.objects.create(name="Research")
    url = reverse("admin:providers_llmmodel_change", args=[model.pk])
    data = form_fields(staff_client.get(url).content.decode(), "llmmodel_form")

    staff_client.post(url, data | {"allowed_tiers": [str(tier.pk)]})

    assert list(model.allowed_tiers.all()) == [tier]


def test_export_selected_downloads_yaml_without_keys(staff_client: Client) -> None:
    openai = make_provider()
    make_provider(name="Other", preset="custom", base_url="https://other.example.com/v1")

    response = staff_client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": "export_selected", "_selected_action": [openai.pk]},
    )

    assert response["Content-Type"] == "application/yaml"
    assert b"name: OpenAI" in response.content
    assert b"name: Other" not in response.content
    assert b"${OPENAI_API_KEY}" in response.content
    assert OPENAI_KEY.encode() not in response.content


def test_the_import_page_shows_the_plan_then_applies_it(
    staff_client: Client, settings: Settings
) -> None:
    settings.CATALOGUE_ADMIN_READS_ENV = True
    settings.CATALOGUE_KEY_ENV = {"GROQ_API_KEY": "gsk_" + "k" * 40}
    url = reverse("admin:providers_import")
    document = (
        "providers:\n  - name: Groq\n    preset: groq\n    api_key: ${GROQ_API_KEY}\n"
        "    enabled: true\n    models:\n      - {model_id: llama-3.3-70b-versatile}\n"
    )

    planned = staff_client.post(url, {"document": document, "plan": "1"})
    assert "create provider Groq" in planned.content.decode()
    assert "Apply these changes" in planned.content.decode()
    assert not Provider.objects.exists()

    applied = staff_client.post(url, {"document": document, "apply": "1"})
    assert applied.status_code == 302
    groq = Provider.objects.get(name="Groq")
    assert groq.api_key.reveal() == "gsk_" + "k" * 40
    assert groq.models.get().model_id == "llama-3.3-70b-versatile"


def test_the_import_page_lists_problems_and_changes_nothing(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:providers_import"), {"document": "providers:\n  - {preset: nope}\n"}
    )

    html = response.content.decode()
    assert "This catalogue has 1 problem; nothing was changed:" in html
    assert "providers[0].name: is required" in html
    assert "Apply these changes" not in html
    assert not Provider.objects.exists()


def test_the_settings_fields_name_their_known_keys(staff_client: Client) -> None:
    provider = make_provider()
    model = make_model(provider)

    provider_page = staff_client.get(reverse("admin:providers_provider_change", args=[provider.pk]))
    model_page = staff_client.get(reverse("admin:providers_llmmodel_change", args=[model.pk]))

    assert "Known keys: api_key_env, auto_enable_new_models," in provider_page.content.decode()
    assert "Known keys: " in model_page.content.decode()
    assert "max_tokens" in model_page.content.decode().split("Known keys: ")[1]


def test_an_export_imports_back_in_the_admin_without_reading_the_environment(
    staff_client: Client, settings: Settings
) -> None:
    settings.CATALOGUE_KEY_ENV = {"OPENAI_API_KEY": "sk-proj-FAKE.other.key.from.env.99"}
    make_model(make_provider(), model_id="gpt-4o")
    exported = staff_client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": "export_selected", "_selected_action": [p.pk for p in Provider.objects.all()]},
    ).content.decode()
    url = reverse("admin:providers_import")

    planned = staff_client.post(url, {"document": exported, "plan": "1"}).content.decode()
    applied = staff_client.post(url, {"document": exported, "apply": "1"})

    assert "unchanged provider OpenAI (keeps the stored key)" in planned
    assert "missing environment variables" not in planned
    assert applied.status_code == 302
    assert Provider.objects.get().api_key.reveal() == OPENAI_KEY  # not the environment's


def test_the_import_page_refuses_a_reference_to_a_server_secret(staff_client: Client) -> None:
    document = (
        "providers:\n  - {name: Evil, preset: custom, base_url: 'https://evil.example/v1',"
        " api_key: '${SECRET_KEY}'}\n"
    )

    html = staff_client.post(
        reverse("admin:providers_import"), {"document": document, "plan": "1"}
    ).content.decode()

    assert "SECRET_KEY is one of Switchboard&#x27;s own settings, never a provider key" in html
    assert "Apply these changes" not in html
    assert not Provider.objects.exists()


UPLOADS = {
    "deep nesting": (b"[" * 5000 + b"]" * 5000, "nested deeper than 20 levels"),
    "latin-1": ("tiers: [{name: caf\xe9}]\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "utf-16": ("tiers: []\n".encode("utf-16"), "is UTF-16 text"),
    "too big": (b"tiers: []\n" + b"#" * (1024 * 1024), "larger than the limit of 1024 KiB"),
    "aliases": (b"a: &a [1]\nproviders: *a\n", "aliases (*name) are not allowed"),
}


@pytest.mark.parametrize(("data", "expected"), UPLOADS.values(), ids=UPLOADS.keys())
def test_a_bad_uploaded_file_gets_its_reason_on_the_page(
    staff_client: Client, data: bytes, expected: str
) -> None:
    upload = SimpleUploadedFile("catalogue.yaml", data, content_type="application/yaml")

    response = staff_client.post(reverse("admin:providers_import"), {"file": upload, "plan": "1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing was changed" in html
    assert expected in html
    assert not Provider.objects.exists()


def test_an_uploaded_file_with_plain_keys_is_planned_and_applied_without_the_page_showing_them(
    staff_client: Client,
) -> None:
    registry = {
        "models": [
            {"model": "gpt-4o", "base_url": "https://api.openai.com/v1", "api_key": OPENAI_KEY}
        ]
    }
    upload = SimpleUploadedFile("registry.json", json.dumps(registry).encode())
    url = reverse("admin:providers_import")

    planned = staff_client.post(url, {"file": upload, "plan": "1"}).content.decode()
    sealed = re.search(r'name="sealed" value="([^"]+)"', planned)[1]
    applied = staff_client.post(url, {"sealed": sealed, "apply": "1"})

    assert "create provider OpenAI" in planned
    assert_keyless(planned, OPENAI_KEY, shows="a plain key was found")
    assert applied.status_code == 302
    assert Provider.objects.get(name="OpenAI").api_key.reveal() == OPENAI_KEY


def test_pasted_text_replaces_an_uploaded_file(staff_client: Client) -> None:
    url = reverse("admin:providers_import")
    upload = SimpleUploadedFile("catalogue.yaml", b"tiers:\n  - {name: Uploaded}\n")
    planned = staff_client.post(url, {"file": upload, "plan": "1"}).content.decode()
    sealed = re.search(r'name="sealed" value="([^"]+)"', planned)[1]

    replanned = staff_client.post(
        url, {"sealed": sealed, "document": "tiers:\n  - {name: Pasted}\n", "plan": "1"}
    ).content.decode()

    assert "create tier Uploaded" in planned
    assert "create tier Pasted" in replanned
    assert "Uploaded" not in replanned


def test_a_sealed_file_no_key_can_open_is_asked_for_again(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:providers_import"), {"sealed": "not-a-fernet-token", "plan": "1"}
    )

    assert "the uploaded file can no longer be read here; upload it again" in (
        response.content.decode()
    )


def test_pasted_text_past_what_django_reads_is_a_clear_400(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:providers_import"), {"document": "#" * (3 * 1024 * 1024), "plan": "1"}
    )

    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
    assert "upload a catalogue as a file instead" in response.content.decode()


def test_an_empty_submission_asks_for_a_catalogue(staff_client: Client) -> None:
    response = staff_client.post(reverse("admin:providers_import"), {"plan": "1"})

    assert "paste a catalogue or choose a file" in response.content.decode()
