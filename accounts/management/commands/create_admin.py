"""`manage.py create_admin`: the first superuser, with a one-time password printed once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

USERNAME = "admin"


class Command(BaseCommand):
    help = (
        f"Create the superuser “{USERNAME}” with a random password, printed once, "
        "unless a superuser exists already."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; no new one created.")
            return
        password = secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                user_model.objects.create_superuser(USERNAME, email="", password=password)
        except IntegrityError:
            raise CommandError(
                f"A user named “{USERNAME}” exists but is not a superuser; "
                "make one with `manage.py createsuperuser`."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created superuser “{USERNAME}” with password: {password}")
        )
        self.stdout.write(
            "This password is shown only once: keep it, or change it in the admin after you log in."
        )
