"""Fixtures every app's tests share: people to log in as."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings


def pytest_report_header() -> str:
    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


@pytest.fixture
def user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def staff(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("charlie", password="charlie-password-1")


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_manifest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Templates resolve {% static %} without a collectstatic run first.

    The manifest storage needs collected files; tests that need them (the served-app
    test) run collectstatic themselves.
    """
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    static_root = tmp_path_factory.mktemp("static")  # whitenoise warns when it is missing
    storages = settings.STORAGES | {"staticfiles": plain}
    with override_settings(STORAGES=storages, STATIC_ROOT=static_root):
        yield
