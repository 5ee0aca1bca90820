from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from providers.tests.factories import make_model, make_provider
from sessions_app.models import ChatSession, Message

pytestmark = pytest.mark.django_db


def test_the_audit_snapshot_outlives_the_model(user: User) -> None:
    model = make_model(make_provider(), model_id="gpt-4o", display_name="GPT-4o")
    session = ChatSession.objects.create(owner=user, current_model=model)
    answer = Message.objects.create(
        session=session,
        role="assistant",
        content="Hello",
        status="done",
        llm_model=model,
        model_id=model.model_id,
        model_display_name=model.label,
        provider_name=model.provider.name,
    )

    model.delete()

    answer.refresh_from_db()
    session.refresh_from_db()
    assert answer.llm_model is None
    assert (answer.model_id, answer.model_display_name, answer.provider_name) == (
        "gpt-4o",
        "GPT-4o",
        "OpenAI",
    )
    assert session.current_model is None


def test_sessions_have_unguessable_public_ids_and_list_newest_first(user: User) -> None:
    older = ChatSession.objects.create(owner=user, title="older")
    newer = ChatSession.objects.create(owner=user, title="newer")

    assert older.public_id != newer.public_id
    assert older.public_id.version == 4
    assert list(ChatSession.objects.filter(owner=user)) == [newer, older]
