"""The catalogue as code: export, validate with paths, plan, apply, round trip."""

from __future__ import annotations

import random
import sys
import textwrap
from decimal import Decimal
from functools import partial

import pytest
import yaml
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.views.debug import ExceptionReporter
from pytest_django.fixtures import Settings

from providers.catalogue import (
    MAX_BYTES,
    CatalogueError,
    decode,
    export_document,
    read_document,
)
from providers.models import Fallback, LLMModel, ModelSource, Provider, Tier
from providers.tests.concurrency import race, statement
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    make_anthropic_provider,
    make_model,
    make_provider,
)

pytestmark = pytest.mark.django_db

ENV = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}


@pytest.fixture
def instance() -> None:
    research = Tier.objects.create(name="Research", description="Everything")
    research.ensure_group()
    interns = Tier.objects.create(
        name="Interns", is_default=True, daily_token_quota=50_000, monthly_cost_budget=25
    )
    interns.ensure_group()
    openai = make_provider(settings={"read_timeout": 30})
    big = make_model(
        openai,
        model_id="gpt-4o",
        display_name="GPT-4o",
        is_default=True,
        input_price=Decimal("2.5"),
        cached_input_price=Decimal("1.25"),
        output_price=Decimal("10"),
    )
    big.allowed_tiers.add(research)
    mini = make_model(openai, model_id="gpt-4o-mini", settings={"temperature": 0.3})
    anthropic = make_anthropic_provider()
    sonnet = make_model(anthropic, model_id="claude-sonnet-5-5", enabled=False)
    Fallback.objects.create(model=big, fallback=sonnet, position=0)
    Fallback.objects.create(model=big, fallback=mini, position=1)
    interns.default_model = mini
    interns.save()


def test_the_export_carries_prices_fallbacks_and_budgets(instance: None) -> None:
    data = yaml.safe_load(export_document())

    big = data["providers"][1]["models"][0]
    assert big["prices"] == {"input": 2.5, "cached_input": 1.25, "output": 10.0}
    assert big["fallbacks"] == ["Anthropic/claude-sonnet-5-5", "OpenAI/gpt-4o-mini"]
    assert "prices" not in data["providers"][1]["models"][1]  # none set: none written
    assert data["tiers"][0]["monthly_cost_budget"] == 25.0


def test_a_fallback_the_same_import_prunes_fails_the_apply_whole(instance: None) -> None:
    data = yaml.safe_load(export_document())
    data["providers"] = [p for p in data["providers"] if p["name"] == "OpenAI"]
    plan = read_document(yaml.safe_dump(data), env=ENV)  # Anthropic's model exists: valid

    with pytest.raises(CatalogueError) as refused:
        plan.apply(prune=True)  # … until this apply prunes it

    assert refused.value.problems == [
        "(document): the fallback Anthropic/claude-sonnet-5-5 is not in the registry any more"
    ]
    assert Provider.objects.filter(name="Anthropic").exists()  # nothing changed


def test_an_import_sets_the_fallbacks_in_the_files_order(instance: None) -> None:
    data = yaml.safe_load(export_document())
    big = data["providers"][1]["models"][0]
    big["fallbacks"].reverse()
    big["prices"]["output"] = "12.5"

    plan = read_document(yaml.safe_dump(data), env=ENV)
    plan.apply(prune=False)

    changed = [c for c in plan.changes if c.action == "update"]
    assert [(c.name, c.fields) for c in changed] == [
        ("OpenAI/gpt-4o", ("output_price", "fallbacks"))
    ]
    model = LLMModel.objects.get(model_id="gpt-4o")
    assert model.output_price == Decimal("12.5")
    assert [link.fallback.model_id for link in model.fallback_links.all()] == [
        "gpt-4o-mini",
        "claude-sonnet-5-5",
    ]


def test_the_export_holds_references_never_keys(instance: None) -> None:
    document = export_document()

    assert OPENAI_KEY not in document
    assert ANTHROPIC_KEY not in document
    assert OPENAI_KEY[:12] not in document
    assert "api_key: ${OPENAI_API_KEY}" in document
    assert "api_key: ${ANTHROPIC_API_KEY}" in document


def test_the_key_reference_name_can_be_chosen(instance: None) -> None:
    Provider.objects.filter(name="OpenAI").update(settings={"api_key_env": "TEAM_OPENAI"})

    assert "api_key: ${TEAM_OPENAI}" in export_document()


def test_an_export_imports_into_an_empty_instance_identically(instance: None) -> None:
    document = export_document()
    Tier.objects.update(default_model=None)
    Provider.objects.all().delete()
    Tier.objects.all().delete()
    Group.objects.all().delete()

    read_document(document, env=ENV).apply(prune=False)

    assert export_document() == document
    assert Provider.objects.get(name="OpenAI").api_key.reveal() == OPENAI_KEY
    assert Provider.objects.get(name="Anthropic").api_key.reveal() == ANTHROPIC_KEY
    assert Tier.objects.get(name="Interns").group.name == "Interns"


def test_an_import_marks_the_models_it_adds_and_keeps_a_row_s_own_source(instance: None) -> None:
    document = export_document()
    kept = LLMModel.objects.first()
    LLMModel.objects.exclude(pk=kept.pk).delete()
    LLMModel.objects.filter(pk=kept.pk).update(source=ModelSource.DISCOVERED)

    read_document(document, env=ENV).apply(prune=False)

    sources = dict(LLMModel.objects.values_list("pk", "source"))
    assert sources.pop(kept.pk) == ModelSource.DISCOVERED
    assert sources
    assert set(sources.values()) == {ModelSource.IMPORTED}


def test_importing_an_export_of_the_same_instance_changes_nothing(instance: None) -> None:
    tokens = [provider.api_key.token() for provider in Provider.objects.all()]

    plan = read_document(export_document(), env=ENV)
    applied = plan.apply(prune=False)

    assert {change.action for change in plan.changes} == {"unchanged"}
    assert applied == []
    assert [provider.api_key.token() for provider in Provider.objects.all()] == tokens


def test_a_dry_run_plan_lists_the_changes_and_changes_nothing(instance: None) -> None:
    data = yaml.safe_load(export_document())
    data["providers"][1]["models"][0]["display_name"] = "GPT-4 Omni"
    data["providers"].append({"name": "Groq", "preset": "groq"})
    document = yaml.safe_dump(data)

    plan = read_document(document, env=ENV)

    lines = [str(change) for change in plan.changes]
    assert "update model OpenAI/gpt-4o (display_name)" in lines
    assert "create provider Groq" in lines
    assert LLMModel.objects.get(model_id="gpt-4o").display_name == "GPT-4o"
    assert not Provider.objects.filter(name="Groq").exists()


def test_prune_removes_what_the_file_leaves_out(instance: None) -> None:
    document = export_document()
    make_provider(name="Old", preset="custom", base_url="https://old.example.com/v1")

    plan = read_document(document, env=ENV)
    assert "would prune provider Old" in [str(change) for change in plan.changes]
    plan.apply(prune=False)
    assert Provider.objects.filter(name="Old").exists()
    read_document(document, env=ENV).apply(prune=True)
    assert not Provider.objects.filter(name="Old").exists()


def test_a_new_host_in_the_file_takes_the_files_key(instance: None) -> None:
    document = export_document().replace(
        "https://api.openai.com/v1", "https://gateway.example.com/v1"
    )

    read_document(document, env=ENV).apply(prune=False)

    assert Provider.objects.get(name="OpenAI").base_url == "https://gateway.example.com/v1"


def broken(yaml_text: str) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        read_document(textwrap.dedent(yaml_text), env=ENV)
    return caught.value.problems


def provider_a(extra: str) -> str:
    return f"providers:\n  - {{name: A, preset: custom, base_url: 'https://a.example/v1'{extra}}}\n"


BROKEN = [
    ("providers: [unclosed", "(document): line 1, column"),
    ("- just\n- a list\n", "(document): must be a mapping"),
    ("providers: {name: x}\n", "providers: must be a list"),
    ("colours: []\n", "colours: is not a known section"),
    ("version: 2\n", "version: must be 1"),
    ("providers:\n  - preset: openai\n", "providers[0].name: is required"),
    ("providers:\n  - name: A\n    preset: nope\n", "providers[0].preset: nope is not a preset"),
    (
        "providers:\n  - {name: A, preset: custom, base_url: 'https://a.example/v1'}\n"
        "  - {name: A, preset: custom, base_url: 'https://b.example/v1'}\n",
        "providers[1].name: A appears twice",
    ),
    (
        "providers:\n  - {name: A, preset: custom, base_url: 'ftp://x'}\n",
        "providers[0].base_url: Enter an http",
    ),
    (
        "providers:\n  - {name: A, preset: custom, base_url: 'https://10.0.0.1/v1'}\n",
        "providers[0].base_url: This address is refused",
    ),
    (
        "providers:\n  - {name: A, preset: openai, api_key: 'sk-plain-key'}\n",
        "providers[0].api_key: write a ${ENV_VAR} reference",
    ),
    (
        "providers:\n  - {name: A, preset: openai, api_key: '${NOT_SET_API_KEY}'}\n",
        "missing environment variables: NOT_SET_API_KEY (providers[0].api_key)",
    ),
    (
        "providers:\n  - {name: A, preset: openai, enabled: true}\n",
        "providers[0].api_key: OpenAI needs an API key",
    ),
    (
        provider_a(", enabled: 'yes'"),
        "providers[0].enabled: must be true or false",
    ),
    (
        provider_a(", colour: red"),
        "providers[0].colour: is not a known field",
    ),
    (
        provider_a(", settings: {read_timeout: 0}"),
        "providers[0].settings.read_timeout: must be a number between 1 and 600",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, settings: {temperature: 3}}\n",
        "providers[0].models[0].settings.temperature: must be a number between 0 and 2",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: 'has space'}\n",
        "providers[0].models[0].model_id: A model id has no spaces",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, is_default: true}\n"
        "      - {model_id: n, is_default: true}\n",
        "providers[0].models: at most one model can be the default, 2 are",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, tiers: [Nobody]}\n",
        "providers[0].models[0].tiers[0]: Nobody is not a tier",
    ),
    (
        "tiers:\n  - {name: T, default_model: 'X/y'}\n",
        "tiers[0].default_model: X/y is not a model in this file",
    ),
    (
        "tiers:\n  - {name: T, is_default: true}\n  - {name: U, is_default: true}\n",
        "tiers: at most one tier can be the default, 2 are",
    ),
    (
        "tiers:\n  - {name: T, daily_token_quota: 0}\n",
        "tiers[0].daily_token_quota: must be a positive whole number",
    ),
    (
        "tiers:\n  - {name: T, monthly_cost_budget: -5}\n",
        "tiers[0].monthly_cost_budget: must be a number of zero or more",
    ),
    (
        "tiers:\n  - {name: T, monthly_cost_budget: 'lots'}\n",
        "tiers[0].monthly_cost_budget: must be a number",
    ),
    (
        "tiers:\n  - {name: T, monthly_cost_budget: 1.005}\n",
        "tiers[0].monthly_cost_budget: must have at most 2 decimal places",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, prices: {output: 1e30}}\n",
        "providers[0].models[0].prices.output: must be less than 100,000,000",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, prices: {input: .inf}}\n",
        "providers[0].models[0].prices.input: must be a number of zero or more",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, prices: {inptu: 1}}\n",
        "providers[0].models[0].prices.inptu: is not a price",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, fallbacks: [A/n]}\n",
        "providers[0].models[0].fallbacks[0]: A/n is not a model here",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, fallbacks: [A/m]}\n",
        "providers[0].models[0].fallbacks[0]: a model cannot be its own fallback",
    ),
    (
        "providers:\n  - name: A\n    preset: custom\n    base_url: 'https://a.example/v1'\n"
        "    models:\n      - {model_id: m, fallbacks: [3]}\n",
        "providers[0].models[0].fallbacks: must be a list of model names",
    ),
]


@pytest.mark.parametrize(("document", "problem"), BROKEN)
def test_each_problem_is_reported_with_its_path(document: str, problem: str) -> None:
    problems = broken(document)

    assert any(p.startswith(problem) for p in problems), problems


def test_the_corpus_has_at_least_fifteen_broken_files() -> None:
    assert len(BROKEN) >= 15


def test_every_problem_is_reported_at_once() -> None:
    problems = broken(
        """\
        providers:
          - {name: A, preset: nope}
          - {name: B, preset: openai, api_key: '${ONE_API_KEY}'}
          - {name: C, preset: openai, api_key: '${TWO_API_KEY}'}
        tiers:
          - {name: T, daily_token_quota: 0}
        """
    )

    assert len(problems) == 3
    assert (
        "missing environment variables: ONE_API_KEY (providers[1].api_key), "
        "TWO_API_KEY (providers[2].api_key)" in problems
    )


# --- key references: only variables meant to hold a provider key ---------------------

SERVER_SECRETS = {
    "SECRET_KEY": "django-signing-secret",
    "FIELD_ENCRYPTION_KEYS": "fernet-key-ring",
    "DATABASE_URL": "postgres://switchboard:pw@db/switchboard",
    "HOME": "/root",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "PGPASSWORD": "pw",
    "secret_key": "lower-case twin",
    "OPENAI_KEY": "no suffix",
}


def reference_to(name: str) -> str:
    return (
        "providers:\n  - name: Evil\n    preset: custom\n"
        "    base_url: 'https://attacker.example/v1'\n"
        f"    api_key: '${{{name}}}'\n"
    )


@pytest.mark.parametrize("name", SERVER_SECRETS)
def test_a_reference_to_a_server_variable_is_refused_even_when_it_is_set(name: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        read_document(reference_to(name), env=ENV | SERVER_SECRETS)

    [problem] = caught.value.problems
    assert problem.startswith(f"providers[0].api_key: {name} is ")
    assert SERVER_SECRETS[name] not in problem
    assert not Provider.objects.exists()


@pytest.mark.parametrize("name", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL"])
def test_switchboards_own_settings_are_refused_even_when_listed(
    name: str, settings: Settings
) -> None:
    settings.CATALOGUE_KEY_VARIABLES = [name]

    problems = broken(reference_to(name))

    assert problems == [
        f"providers[0].api_key: {name} is one of Switchboard's own settings, never a provider key"
    ]


def test_a_listed_variable_and_any_api_key_name_are_read(settings: Settings) -> None:
    settings.CATALOGUE_KEY_VARIABLES = ["TEAM_OPENAI_TOKEN"]
    document = (
        "providers:\n"
        "  - {name: A, preset: openai, api_key: '${TEAM_OPENAI_TOKEN}'}\n"
        "  - {name: B, preset: openai, api_key: '${ANYTHING_API_KEY}'}\n"
    )

    read_document(
        document, env={"TEAM_OPENAI_TOKEN": OPENAI_KEY, "ANYTHING_API_KEY": ANTHROPIC_KEY}
    ).apply(prune=False)

    assert Provider.objects.get(name="A").api_key.reveal() == OPENAI_KEY
    assert Provider.objects.get(name="B").api_key.reveal() == ANTHROPIC_KEY


def test_an_export_imports_back_without_any_variable_keeping_the_stored_keys(
    instance: None,
) -> None:
    plan = read_document(export_document(), env=None)  # the admin: no environment read

    assert {str(c) for c in plan.changes if c.kind == "provider"} == {
        "unchanged provider OpenAI (keeps the stored key)",
        "unchanged provider Anthropic (keeps the stored key)",
    }
    plan.apply(prune=False)
    assert Provider.objects.get(name="OpenAI").api_key.reveal() == OPENAI_KEY


def test_a_changed_provider_keeping_its_key_says_both(instance: None) -> None:
    document = export_document().replace("read_timeout: 30", "read_timeout: 45")

    plan = read_document(document, env={})

    assert "update provider OpenAI (settings; keeps the stored key)" in map(str, plan.changes)


def test_a_new_provider_without_its_variable_in_the_admin_says_what_to_do() -> None:
    with pytest.raises(CatalogueError) as caught:
        read_document(
            "providers:\n  - {name: G, preset: groq, api_key: '${GROQ_API_KEY}'}\n", env=None
        )

    [problem] = caught.value.problems
    assert "the admin import does not read the server's environment" in problem
    assert "GROQ_API_KEY (providers[0].api_key)" in problem
    assert "CATALOGUE_ADMIN_READS_ENV" in problem


@pytest.mark.parametrize("name", ["SECRET_KEY", "HOME", "has space", "1_API_KEY"])
def test_a_provider_cannot_name_a_server_variable_for_its_export(name: str) -> None:
    problems = broken(provider_a(f", settings: {{api_key_env: '{name}'}}"))

    assert len(problems) == 1
    assert problems[0].startswith("providers[0].settings.api_key_env: ")


# --- hostile files: refused with a reason, never an exception -------------------------

HOSTILE = {
    "deep flow list": ("[" * 3000 + "]" * 3000, "nested deeper than 20 levels"),
    "deep JSON": ('{"a": ' * 3000 + "1" + "}" * 3000, "nested deeper than 20 levels"),
    "deep block map": (
        "".join(f"{'  ' * n}k{n}:\n" for n in range(400)) + "  " * 400 + "x: 1\n",
        "nested deeper than 20 levels",
    ),
    "billion laughs": (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "providers: *i\n",
        "aliases (*name) are not allowed",
    ),
    "merge key": ("x: &x {name: A}\nproviders: [{<<: *x}]\n", "aliases (*name) are not allowed"),
    "5000-digit number": ("version: " + "9" * 5000 + "\n", "this int value cannot be read"),
    "bad boolean tag": ("version: !!bool maybe\n", "this bool value cannot be read"),
    "bad timestamp tag": ("version: !!timestamp soon\n", "this timestamp value cannot be read"),
    "python tag": ("version: !!python/object/apply:os.system [id]\n", "could not determine"),
    "NUL character": ("version: 1\x00\n", "unacceptable character #x0000"),
    "tab indentation": ("providers:\n\t- name: A\n", "line 2, column 1"),
    "wrong types inside": (
        "providers:\n  - {name: A, preset: [openai], models: [{model_id: m, tiers: [[x]]}]}\n",
        "providers[0].preset: must be a string",
    ),
    "a string for the document": ("just words\n", "(document): must be a mapping"),
    "too many providers": (
        "providers:\n" + "".join(f"  - {{name: p{n}}}\n" for n in range(201)),
        "providers: 201 entries, more than the limit of 200",
    ),
}


@pytest.mark.parametrize(("text", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_document_is_refused_with_a_reason(text: str, expected: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        read_document(text, env=ENV)

    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    assert not Provider.objects.exists()


def test_a_document_over_the_size_limit_is_refused_before_it_is_read() -> None:
    text = "providers: []\n" + "#" * MAX_BYTES

    with pytest.raises(CatalogueError) as caught:
        read_document(text, env=ENV)

    assert caught.value.problems == ["(document): is larger than the limit of 1024 KiB"]


ENCODINGS = {
    "latin-1": (
        "version: 1\ndescription: caf\xe9\n".encode("latin-1"),
        "not UTF-8 text (byte 0xe9",
    ),
    "utf-16": ("version: 1\n".encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
    "cp1252 quotes": (b"tiers: [{name: \x93pro\x94}]\n", "not UTF-8 text (byte 0x93"),
    "binary": (bytes(range(256)), "not UTF-8 text (byte 0x80"),
}


@pytest.mark.parametrize(("data", "expected"), ENCODINGS.values(), ids=ENCODINGS.keys())
def test_a_file_not_in_utf8_is_refused_with_its_encoding_problem(
    data: bytes, expected: str
) -> None:
    with pytest.raises(CatalogueError) as caught:
        decode(data)

    [problem] = caught.value.problems
    assert expected in problem


def test_a_utf8_file_with_a_byte_order_mark_is_read() -> None:
    assert decode("\ufefftiers: [{name: Café}]\n".encode()) == "tiers: [{name: Café}]\n"


DAMAGE = ["[", "]", "{", "}", ": ", "- ", "\t", "'", '"', "*a", "&a ", "!!binary z", "!!set", "~"]


def test_random_damage_to_an_export_is_always_a_catalogue_error(instance: None) -> None:
    """A fixed-seed fuzz: the same 300 damaged documents on every run."""
    exported = export_document()
    chance = random.Random(20261201)  # noqa: S311 - damage, not secrets
    refused = 0
    for _ in range(300):
        text = list(exported)
        for _ in range(chance.randint(1, 4)):
            at = chance.randrange(len(text))
            if chance.random() < 0.5:
                text.insert(at, chance.choice(DAMAGE))
            else:
                del text[at : at + chance.randint(1, 12)]
        damaged = "".join(text)
        try:
            read_document(damaged, env=ENV)
        except CatalogueError:
            refused += 1
    assert refused > 150  # the damage was real: most documents broke


def test_an_error_report_from_an_import_shows_no_key(rf: RequestFactory) -> None:
    document = (
        "providers:\n  - {name: A, preset: openai, api_key: '${OPENAI_API_KEY}'}\n"
        "  - {name: B, preset: nope}\n"
    )
    try:
        read_document(document, env=ENV)
    except CatalogueError:
        report = ExceptionReporter(rf.get("/"), *sys.exc_info()).get_traceback_html()

    assert "in read_document" in report
    assert "in _plan" in report
    assert OPENAI_KEY not in report
    assert ANTHROPIC_KEY not in report


TOO_BIG_FOR_THE_DATABASE = {
    "provider name": (
        f"providers:\n  - {{name: '{'n' * 101}'}}\n",
        "providers[0].name: must be at most 100",
    ),
    "model id": (
        provider_a(f", models: [{{model_id: '{'m' * 201}'}}]"),
        "providers[0].models[0].model_id: must be at most 200",
    ),
    "display name": (
        provider_a(f", models: [{{model_id: m, display_name: '{'d' * 201}'}}]"),
        "providers[0].models[0].display_name: must be at most 200",
    ),
    "tier name": (f"tiers:\n  - {{name: '{'t' * 101}'}}\n", "tiers[0].name: must be at most 100"),
    "quota": (
        "tiers:\n  - {name: T, daily_token_quota: 99999999999999999999999}\n",
        "tiers[0].daily_token_quota: must be a positive whole number (at most 2147483647)",
    ),
    "NaN temperature": (
        provider_a(", models: [{model_id: m, settings: {temperature: .nan}}]"),
        "providers[0].models[0].settings.temperature: must be a number between 0 and 2, not nan",
    ),
    "infinite timeout": (
        provider_a(", settings: {read_timeout: .inf}"),
        "providers[0].settings.read_timeout: must be a number between 1 and 600, not inf",
    ),
}


@pytest.mark.parametrize(
    ("text", "expected"), TOO_BIG_FOR_THE_DATABASE.values(), ids=TOO_BIG_FOR_THE_DATABASE.keys()
)
def test_a_value_the_database_cannot_hold_is_refused_at_plan_time(text: str, expected: str) -> None:
    assert any(problem.startswith(expected) for problem in broken(text)), broken(text)


def test_a_utf32_file_is_named_as_such() -> None:
    with pytest.raises(CatalogueError) as caught:
        decode("tiers: []\n".encode("utf-32"))

    assert caught.value.problems == ["(document): is UTF-32 text; save it as UTF-8"]


def test_a_registry_changed_between_plan_and_apply_fails_whole_with_a_reason() -> None:
    plan = read_document(provider_a(""), env=ENV)  # creates A at a.example
    # Meanwhile another worker creates A elsewhere, with a key: the plan's save would now
    # move that key to a.example, which the model refuses.
    make_provider(name="A", preset="custom", base_url="https://elsewhere.example/v1")

    with pytest.raises(CatalogueError) as caught:
        plan.apply(prune=False)

    [problem] = caught.value.problems
    assert problem.startswith("(document): the registry changed while this was applied")
    assert "Re-enter the API key to point this provider at a.example" in problem
    assert Provider.objects.get(name="A").base_url == "https://elsewhere.example/v1"


@pytest.mark.django_db(transaction=True)  # each thread commits on its own connection
def test_two_imports_at_once_both_apply_one_after_the_other() -> None:
    """Guards the lock on PostgreSQL (.ci/run's second pass); SQLite's IMMEDIATE
    transactions serialise the two anyway."""
    a = "{name: A, preset: custom, base_url: 'https://a.example/v1'}"
    b = "{name: B, preset: custom, base_url: 'https://b.example/v1'}"
    # Each creates A and B, in opposite orders: unserialised, each would wait on the name
    # the other inserted first, a deadlock that PostgreSQL ends with an error (a 500).
    plans = [
        read_document(f"providers: [{one}, {two}]\n", env=ENV) for one, two in [(a, b), (b, a)]
    ]
    second_insert = 'INSERT INTO "providers_provider"'

    errors = race(
        *((partial(p.apply, prune=False), statement(second_insert, nth=2)) for p in plans)
    )

    assert errors == [None, None]
    assert sorted(Provider.objects.values_list("name", flat=True)) == ["A", "B"]
