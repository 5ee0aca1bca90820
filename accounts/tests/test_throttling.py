"""Sign-in throttling (django-axes, accounts/throttling.py): per account, per address, both pages.

Most tests lower the failure limit to 3 with pytest-django's `settings`: axes reads
AXES_FAILURE_LIMIT and AXES_COOLOFF_TIME from settings on every sign-in, not at import. The
first test and the served-app test drive the limits the environment sets.
"""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db

ALICE_PASSWORD = "alice-password-1"
CHARLIE_PASSWORD = "charlie-password-1"


@pytest.fixture
def limit_of_three(settings: Settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3


def log_in(client: Client, username: str, password: str, path: str = "") -> HttpResponse:
    return client.post(
        path or reverse("accounts:login"), {"username": username, "password": password}
    )


def from_address(address: str) -> Client:
    """A browser at `address`: REMOTE_ADDR is what uvicorn hands Django as the client."""
    return Client(REMOTE_ADDR=address)


def assert_refused_as_usual(response: HttpResponse) -> None:
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()


def assert_locked_out(response: HttpResponse, limit: int = 3, minutes: int = 15) -> None:
    html = response.content.decode()
    assert response.status_code == 429
    assert '<h1 id="locked-out-title">Sign-in paused</h1>' in html
    assert "Sign-in is paused for this account" in html
    assert f"or for your address, after {limit} failed attempts." in html
    assert f"You can try again in {minutes} minutes." in html
    assert "Staff can unlock it sooner" in html


def assert_logged_in(response: HttpResponse, client: Client, user: User) -> None:
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_ten_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused_too(
    client: Client, user: User
) -> None:
    for _ in range(9):
        assert_refused_as_usual(log_in(client, "alice", "wrong"))

    assert_locked_out(log_in(client, "alice", "wrong"), limit=10)
    assert_locked_out(log_in(client, "alice", ALICE_PASSWORD), limit=10)
    assert "_auth_user_id" not in client.session


def test_failures_spread_over_many_accounts_from_one_address_lock_the_address(
    limit_of_three: None, user: User
) -> None:
    sprayer = from_address("203.0.113.7")
    assert_refused_as_usual(log_in(sprayer, "bob", "guess"))
    assert_refused_as_usual(log_in(sprayer, "carol", "guess"))

    assert_locked_out(log_in(sprayer, "dave", "guess"))
    assert_locked_out(log_in(sprayer, "alice", ALICE_PASSWORD))
    elsewhere = from_address("198.51.100.2")
    assert_logged_in(log_in(elsewhere, "alice", ALICE_PASSWORD), elsewhere, user)


def test_one_account_attacked_from_several_addresses_is_locked(
    limit_of_three: None, user: User, other_user: User
) -> None:
    assert_refused_as_usual(log_in(from_address("198.51.100.1"), "alice", "guess"))
    assert_refused_as_usual(log_in(from_address("198.51.100.2"), "alice", "guess"))

    assert_locked_out(log_in(from_address("198.51.100.3"), "alice", "guess"))
    fresh = from_address("192.0.2.50")
    assert_locked_out(log_in(fresh, "alice", ALICE_PASSWORD))
    # The account is locked, not that address: someone else signs in from it.
    assert_logged_in(log_in(fresh, "bob", "bob-password-1"), fresh, other_user)


def test_the_admin_login_is_throttled_the_same_way_and_counts_with_the_login_page(
    limit_of_three: None, client: Client, staff: User
) -> None:
    admin_login = reverse("admin:login")
    assert_refused_as_usual(log_in(client, "charlie", "guess"))
    response = log_in(client, "charlie", "guess", path=admin_login)
    assert response.status_code == 200
    assert "Please enter the correct username and password" in response.content.decode()

    assert_locked_out(log_in(client, "charlie", "guess", path=admin_login))
    assert_locked_out(log_in(client, "charlie", CHARLIE_PASSWORD, path=admin_login))
    assert_locked_out(log_in(client, "charlie", CHARLIE_PASSWORD))


def test_a_successful_login_forgives_the_failures_before_it(
    limit_of_three: None, client: Client, user: User
) -> None:
    assert_refused_as_usual(log_in(client, "alice", "typo"))
    assert_refused_as_usual(log_in(client, "alice", "typo"))
    assert_logged_in(log_in(client, "alice", ALICE_PASSWORD), client, user)
    client.post(reverse("accounts:logout"))

    assert not AccessAttempt.objects.exists()
    assert_refused_as_usual(log_in(client, "alice", "typo"))
    assert_refused_as_usual(log_in(client, "alice", "typo"))


def test_signing_in_to_ones_own_account_does_not_forgive_guesses_at_another(
    limit_of_three: None, user: User, staff: User
) -> None:
    # Stock axes would wipe every failure from the address here (accounts/throttling.py).
    insider = from_address("10.0.0.5")
    assert_refused_as_usual(log_in(insider, "charlie", "guess-1"))
    assert_refused_as_usual(log_in(insider, "charlie", "guess-2"))
    assert_logged_in(log_in(insider, "alice", ALICE_PASSWORD), insider, user)
    insider.post(reverse("accounts:logout"))

    assert_locked_out(log_in(insider, "charlie", "guess-3"))
    assert_locked_out(log_in(from_address("10.9.9.9"), "charlie", CHARLIE_PASSWORD))


def lock_alice_out() -> None:
    for n in range(1, 4):
        log_in(from_address(f"198.51.100.{n}"), "alice", "guess")
    assert_locked_out(log_in(from_address("192.0.2.1"), "alice", ALICE_PASSWORD))


def test_staff_unlock_an_account_by_deleting_its_access_attempts_in_the_admin(
    limit_of_three: None, user: User, staff_client: Client
) -> None:
    lock_alice_out()
    changelist = reverse("admin:axes_accessattempt_changelist")
    listed = staff_client.get(changelist, {"q": "alice"}).content.decode()
    assert "198.51.100.3" in listed
    attempts = AccessAttempt.objects.filter(username="alice")

    response = staff_client.post(
        changelist,
        {
            "action": "delete_selected",
            "_selected_action": list(attempts.values_list("pk", flat=True)),
            "post": "yes",
        },
    )

    assert response.status_code == 302
    alice = from_address("192.0.2.1")
    assert_logged_in(log_in(alice, "alice", ALICE_PASSWORD), alice, user)


def test_the_reset_command_unlocks_an_account_at_once(
    limit_of_three: None, user: User, capsys: pytest.CaptureFixture[str]
) -> None:
    lock_alice_out()

    call_command("axes_reset_username", "alice")

    assert "attempts removed." in capsys.readouterr().out
    alice = from_address("192.0.2.1")
    assert_logged_in(log_in(alice, "alice", ALICE_PASSWORD), alice, user)


def test_the_reset_command_unlocks_an_address_at_once(limit_of_three: None, user: User) -> None:
    office = from_address("203.0.113.9")
    for name in ("bob", "carol", "dave"):
        log_in(office, name, "guess")
    assert_locked_out(log_in(office, "alice", ALICE_PASSWORD))

    call_command("axes_reset_ip", "203.0.113.9")

    assert_logged_in(log_in(office, "alice", ALICE_PASSWORD), office, user)


def test_the_lock_lifts_once_the_failures_are_older_than_the_lockout_time(
    limit_of_three: None, client: Client, user: User
) -> None:
    for _ in range(3):
        log_in(client, "alice", "guess")
    # Age the failures instead of waiting: LOGIN_LOCKOUT_MINUTES defaults to 15.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))

    assert_logged_in(log_in(client, "alice", ALICE_PASSWORD), client, user)


def test_the_lockout_page_escapes_the_username_and_never_shows_the_password(
    limit_of_three: None, client: Client, staff_client: Client
) -> None:
    username = '<script>alert("x")</script>'
    password = "correct-horse-7f3a"
    for _ in range(3):
        response = log_in(from_address("192.0.2.77"), username, password)

    assert_locked_out(response)
    html = response.content.decode()
    assert password not in html
    assert "<script>alert" not in html
    assert "<strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</strong>" in html
    # Nor is it kept where staff look (axes masks it in the stored form data).
    attempt = AccessAttempt.objects.get()
    masked = "password=" + "*" * 20
    assert masked in attempt.post_data
    assert password not in attempt.post_data
    change_page = staff_client.get(
        reverse("admin:axes_accessattempt_change", args=[attempt.pk])
    ).content.decode()
    assert "<h1>Change access attempt</h1>" in change_page
    assert '<div class="readonly">192.0.2.77</div>' in change_page
    assert masked in change_page
    assert password not in change_page


@pytest.fixture
def asgi_env() -> dict[str, str]:
    return {"LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "2"}


@pytest.mark.django_db(transaction=True)
def test_the_served_app_locks_out_the_forwarded_client_with_the_limits_from_the_environment(
    asgi_server: str, user: User
) -> None:
    """Under uvicorn (axes' async middleware path), behind a proxy on loopback.

    uvicorn trusts X-Forwarded-For from 127.0.0.1 by default (--forwarded-allow-ips), so
    REMOTE_ADDR, and the address axes counts, is the forwarded client's.
    """
    forwarded = {"X-Forwarded-For": "203.0.113.77"}
    with httpx2.Client(base_url=asgi_server, headers=forwarded, timeout=20) as browser:
        browser.get("/accounts/login/")

        def post(password: str) -> httpx2.Response:
            token = browser.cookies["csrftoken"]
            form = {"username": "alice", "password": password, "csrfmiddlewaretoken": token}
            return browser.post("/accounts/login/", data=form)

        assert post("guess").status_code == 200
        assert post("guess").status_code == 200
        locked, right = post("guess"), post(ALICE_PASSWORD)

    for response in (locked, right):
        assert response.status_code == 429
        assert "Sign-in paused" in response.text
        assert "after 3 failed attempts" in response.text
        assert "You can try again in 2 minutes." in response.text
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.77"}
