from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def test_it_creates_admin_and_prints_a_working_password_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("create_admin")
    first = capsys.readouterr().out
    call_command("create_admin")
    second = capsys.readouterr().out

    password = re.search(r"with password: (\S+)", first).group(1)
    # With a request: the throttling backend refuses to judge a sign-in without one.
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="admin", password=password).is_superuser
    assert "A superuser exists already; no new one created." in second
    assert password not in second
    assert User.objects.count() == 1


def test_it_does_nothing_when_any_superuser_exists(
    staff: User, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("create_admin")

    assert capsys.readouterr().out == "A superuser exists already; no new one created.\n"
    assert list(User.objects.values_list("username", flat=True)) == ["charlie"]


def test_it_explains_when_admin_exists_without_superuser_rights(user: User) -> None:
    User.objects.create_user("admin", password="not-a-superuser-1")

    with pytest.raises(CommandError, match="exists but is not a superuser"):
        call_command("create_admin")
