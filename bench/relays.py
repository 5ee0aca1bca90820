"""The two relays Switchboard is compared with, each in a venv of its own that is
installed on first use from bench/requirements-<name>.txt (again when that file changes):
the floor (bench/floor_relay.py) and LiteLLM's proxy. Both relay the fake upstream and
run one worker."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from bench.app import FAKE_MODEL, Server, free_port, wait_listening

BENCH = Path(__file__).resolve().parent
# LiteLLM refuses to start without a master key; clients send it as their bearer token.
# Made afresh each run, so no key-shaped string is committed.
LITELLM_KEY = f"sk-{secrets.token_hex(16)}"


def venv(name: str) -> Path:
    """The bin folder of bench/.venv-<name>, installed from its requirements file."""
    path = BENCH / f".venv-{name}"
    requirements = BENCH / f"requirements-{name}.txt"
    stamp = path / "installed-from.txt"  # the requirements it was installed from
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        print(f"Installing {requirements.name} into {path.name} …", file=sys.stderr)
        # From a venv's python, venv builds on the base interpreter, not on this venv.
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        pip = [str(path / "bin" / "pip"), "install", "--quiet", "-r", str(requirements)]
        subprocess.run(pip, check=True)
        stamp.write_text(requirements.read_text())
    return path / "bin"


def start_floor(upstream: str) -> Server:
    port = free_port()
    command = [str(venv("floor") / "python"), "-m", "uvicorn", "--app-dir", str(BENCH)]
    command += ["floor_relay:app", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=os.environ | {"FLOOR_UPSTREAM": upstream})
    wait_listening(port, process, "The floor relay")
    return Server(f"http://127.0.0.1:{port}", process)


def start_litellm(upstream: str, workdir: Path) -> Server:
    """LiteLLM's proxy routing FAKE_MODEL to the fake, with no database and no telemetry."""
    config = workdir / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: {FAKE_MODEL}
    litellm_params:
      model: openai/{FAKE_MODEL}
      api_base: {upstream}
      api_key: sk-bench
general_settings:
  master_key: {LITELLM_KEY}
  disable_spend_logs: true
  disable_error_logs: true
"""
    )
    # Its own environment, not the bench's: a DATABASE_URL there would start LiteLLM's.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else it fetches the cost map at start
        "LITELLM_LOG": "ERROR",
    }
    port = free_port()
    command = [str(venv("litellm") / "litellm"), "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    log = workdir / "litellm.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    wait_listening(port, process, f"LiteLLM's proxy (its log: {log})")
    return Server(f"http://127.0.0.1:{port}", process)


def litellm_version() -> str:
    for line in (BENCH / "requirements-litellm.txt").read_text().splitlines():
        if line.startswith("litellm"):
            return line.split("==")[1]
    return "?"
