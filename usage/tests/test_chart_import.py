"""pygal stays out of a worker until it draws a dashboard (usage/views.py): 4.5 MB in
every worker otherwise (bench/README.md)."""

from __future__ import annotations

import pytest

from config.tests.fresh_process import python_output

# A worker with every view's module loaded, as its first request loads the URLconf.
EVERY_VIEW = """
import sys
import config.asgi
from django.urls import get_resolver
get_resolver().url_patterns
print("pygal" in sys.modules)
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_with_every_view_loaded_holds_no_pygal(served_env: dict[str, str]) -> None:
    assert python_output(EVERY_VIEW, served_env).split() == ["False"]
