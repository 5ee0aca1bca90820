"""Every page needs a login, except logging in itself and the health check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

OPEN_TO_EVERYONE = {"/accounts/login/", "/healthz", "/admin/login/", "/favicon.ico"}


def concrete_paths(patterns: list, prefix: str = "") -> Iterator[str]:
    """Each URL pattern as a path, with a well-formed value for every parameter."""
    for pattern in patterns:
        route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", str(pattern.pattern))  # regex groups
        route = re.sub(r"<uuid:[^>]+>", "00000000-0000-4000-8000-000000000000", route)
        route = re.sub(r"<[^>]+>", "1", route)  # other path converters
        route = prefix + re.sub(r"\^|\$|\\Z", "", route)
        if isinstance(pattern, URLResolver):
            yield from concrete_paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + route


ALL_PATHS = sorted(set(concrete_paths(get_resolver().url_patterns)))


def test_the_url_walk_finds_the_apps_and_the_admin() -> None:
    assert {"/", "/admin/", "/admin/providers/provider/1/change/"} <= set(ALL_PATHS)
    assert set(ALL_PATHS) >= OPEN_TO_EVERYONE


@pytest.mark.parametrize("path", [p for p in ALL_PATHS if p not in OPEN_TO_EVERYONE])
def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302, path
    assert re.match(r"^/(admin|accounts)/login/\?next=", response["Location"]), response["Location"]


@pytest.mark.parametrize("path", sorted(OPEN_TO_EVERYONE))
def test_the_open_pages_answer_without_login(client: Client, path: str) -> None:
    assert client.get(path).status_code == 200


def named_patterns(patterns: list, namespace: str = "") -> Iterator[tuple[str, str]]:
    """(namespace, name) of every named URL pattern."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from named_patterns(pattern.url_patterns, pattern.namespace or namespace)
        elif pattern.name:
            yield namespace, pattern.name


def test_every_url_name_is_namespaced() -> None:
    names = list(named_patterns(get_resolver().url_patterns))

    assert ("accounts", "login") in names
    assert ("providers", "models") in names
    assert [name for namespace, name in names if not namespace] == []
