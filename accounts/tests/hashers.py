"""A password hasher for the test process only (conftest `_quick_password_hashing`)."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 at a thousandth of its work.

    The tests make users and log them in hundreds of times, and a million iterations
    cost a quarter of a second each: most of the time of a test that logs in. The hash
    keeps PBKDF2's name and records its iterations, so a served app, hashing as
    production does, still checks it (and strengthens it at that login, as it does any
    hash made with fewer iterations than its own).
    """

    iterations = 1_000
