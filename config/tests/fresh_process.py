"""Python code run in a process of its own, from the checkout, as a worker starts fresh."""

from __future__ import annotations

import subprocess
import sys

from config.tests.uvicorn import BASE_DIR


def python_output(code: str, env: dict[str, str]) -> str:
    """What `code` prints, run by this interpreter in the checkout with `env`; a failure
    raises, its output attached."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout
