"""Changing one's own password, on the app's pages rather than the admin's."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_the_settings_page_links_to_the_password_page_which_is_the_apps(alice: Client) -> None:
    settings_page = alice.get(reverse("accounts:settings")).content.decode()
    response = alice.get(reverse("accounts:password_change"))

    html = response.content.decode()
    assert f'<a href="{reverse("accounts:password_change")}">Change your password</a>' in (
        settings_page
    )
    assert response.status_code == 200
    assert "<title>Change your password · Switchboard</title>" in html
    assert '<label for="id_old_password">Old password</label>' in html
    assert '<button type="submit" class="primary">Change my password</button>' in html
    assert "Django administration" not in html
    assert 'href="/admin/"' not in html  # a Home link most people may not open


def test_a_wrong_old_password_is_refused_with_its_reason(alice: Client, user: User) -> None:
    response = alice.post(
        reverse("accounts:password_change"),
        {
            "old_password": "wrong",
            "new_password1": "n3w-Passw0rd!",
            "new_password2": "n3w-Passw0rd!",
        },
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly." in response.content.decode()
    assert User.objects.get(pk=user.pk).check_password("alice-password-1")


def test_a_changed_password_works_and_the_page_says_so(alice: Client, user: User) -> None:
    response = alice.post(
        reverse("accounts:password_change"),
        {
            "old_password": "alice-password-1",
            "new_password1": "n3w-Passw0rd!",
            "new_password2": "n3w-Passw0rd!",
        },
        follow=True,
    )

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("accounts:password_change_done")
    assert '<h1 id="password-title">Password changed</h1>' in html
    assert User.objects.get(pk=user.pk).check_password("n3w-Passw0rd!")
