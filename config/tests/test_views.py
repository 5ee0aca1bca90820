from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login_after_a_database_round_trip(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.content.decode()
    assert settings.SECRET_KEY not in body
    assert settings.FIELD_ENCRYPTION_KEYS[0] not in body


def test_healthz_only_answers_get(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
