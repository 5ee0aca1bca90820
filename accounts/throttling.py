"""Sign-in throttling: django-axes' database handler, forgiving less on a successful login.

With AXES_RESET_ON_SUCCESS, stock axes deletes every failure recorded for the account
*and* every failure recorded from the address. An address is shared by everyone signing
in from it, so one good login would wipe the count against other accounts too: a team
member could guess a colleague's password nine times, sign in as themselves, and go on
for ever. A success here forgives only the failures it explains: this account's, from
this address. The maintainers suggested the same narrowing (jazzband/django-axes#317).
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.http import HttpRequest


class LoginThrottleHandler(AxesDatabaseHandler):
    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        attempts = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        )
        count, _ = attempts.delete()
        return count


def client_address(request: HttpRequest) -> str:
    """The address uvicorn saw (from X-Forwarded-For only for --forwarded-allow-ips). Pinned
    here: with django-ipware installed, axes would believe any X-Forwarded-For sent."""
    return request.META.get("REMOTE_ADDR", "")
