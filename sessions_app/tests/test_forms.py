"""The chat's forms: a posted model is checked by the access service alone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from providers import access
from providers.models import LLMModel
from providers.tests.factories import make_catalogue
from sessions_app.forms import ChooseModelForm, MessageForm

pytestmark = pytest.mark.django_db


def test_validating_a_posted_model_asks_about_that_model_alone(
    user: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    make_catalogue()
    model = LLMModel.objects.get(model_id="model-07-117")
    with CaptureQueriesContext(connection) as granting:
        access.grant(user, model.pk)

    # Building the picker's 2,000 choices would be one query more; a message also asks
    # whether the person has limits of their own (usage.quotas), and none are set.
    with django_assert_num_queries(len(granting) + 1):
        form = MessageForm({"content": "Hi", "model": model.pk}, user=user)
        assert form.is_valid()
    with django_assert_num_queries(len(granting)):
        assert ChooseModelForm({"model": model.pk}, user=user).is_valid()

    assert form.cleaned_data["model"] == model


def test_a_refused_model_says_why(user: User) -> None:
    make_catalogue(providers=1, models=2)
    model = LLMModel.objects.get(model_id="model-00-001")
    LLMModel.objects.filter(pk=model.pk).update(enabled=False)

    form = MessageForm({"content": "Hi", "model": model.pk}, user=user)

    assert not form.is_valid()
    assert form.errors["model"] == ["Model 00-001 is switched off; pick another model."]
