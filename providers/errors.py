"""The one base of the errors people see.

A UserFacingError's `user_message` is safe to show anywhere (it never carries a key or a
stack) and says what to do; `detail` is what an admin or a log needs besides, already
redacted. Each edge — the stream, the admin, a command — catches this base once and
shows `user_message` (or `description`, to staff), instead of listing every kind.
"""

from __future__ import annotations


class UserFacingError(Exception):
    category = "error"  # a word for lists and filters: "bad key", "rate limited", …
    user_message = "Something went wrong."

    def __init__(self, user_message: str | None = None, *, detail: str = "") -> None:
        if user_message is not None:
            self.user_message = user_message
        self.detail = detail
        super().__init__(self.description)

    @property
    def description(self) -> str:
        """The user message with the detail: for admins, logs and last_error."""
        return f"{self.user_message} {self.detail}".strip()
