"""The app's URLs and one more, for a test: a page anyone may open that leaves a message
too long for its cookie, which the messages framework then keeps in the session."""

import base64
import random

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

# Past CookieStorage's 2,048 bytes however it compresses: FallbackStorage puts it in
# the session.
LONG_MESSAGE = "Not imported: " + base64.b64encode(random.Random(0).randbytes(3_000)).decode()  # noqa: S311 - text, not a secret


@login_not_required
def leave_a_long_message(request: HttpRequest) -> HttpResponse:
    messages.info(request, LONG_MESSAGE)
    return redirect("accounts:login")


urlpatterns = [path("test/long-message/", leave_a_long_message), *app_urlpatterns]
