"""Write a development .env with fresh secrets, unless one exists: `python -m config.dev_env`.

Runs before Django can start (settings refuse to load without these secrets), so it
imports nothing from Django.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` for local development; never commit this file.
# Every variable is described in README.md and .env.example.
SECRET_KEY={secret_key}
FIELD_ENCRYPTION_KEYS={encryption_key}
# Debug pages show settings, source and request data to whoever reaches the server, so
# DEBUG stays off even here; set DEBUG=True only while developing on this machine alone.
DEBUG=False
# `make run` serves plain http: cookies limited to https would never come back.
SESSION_COOKIE_SECURE=False
CSRF_COOKIE_SECURE=False
"""


def write_dev_env(path: Path) -> bool:
    """True when a new file was written; an existing one is never touched."""
    content = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50), encryption_key=Fernet.generate_key().decode()
    )
    try:
        # O_EXCL: never overwrite, even one that appeared meanwhile; 0600 from the start.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as env_file:
        env_file.write(content)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_dev_env(target):
        print(f"Wrote {target} with a new SECRET_KEY and FIELD_ENCRYPTION_KEYS.")
