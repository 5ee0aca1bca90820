from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_login_page_has_labelled_fields_and_a_log_in_button(client: Client) -> None:
    html = client.get(reverse("accounts:login")).content.decode()

    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert '<button type="submit" class="primary">Log in</button>' in html
    assert "/static/css/app.css" in html


def test_logging_in_goes_to_the_page_asked_for(client: Client, user: User) -> None:
    response = client.post(
        reverse("accounts:login"),
        {"username": "alice", "password": "alice-password-1", "next": "/admin/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_wrong_password_is_refused_with_a_clear_message(client: Client, user: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert "wrong" not in response.content.decode().split("<form")[1].split("</form>")[0]


def test_logging_out_is_a_post_and_returns_to_the_login_page(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.post(reverse("accounts:logout"))

    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("sessions_app:index"))["Location"].startswith(
        reverse("accounts:login")
    )
