"""What Switchboard adds to a streamed answer: time to first token, per-token cost, RSS.

The fake upstream streams N tokens at a fixed pace. Each concurrency level runs twice:
clients reading the fake directly, then clients reading Switchboard's SSE endpoint (the
app under uvicorn, relaying the same fake). The difference is Switchboard's overhead.

    .venv/bin/python bench/stream_overhead.py --levels 1 50 200 --tokens 50 --token-delay 0.02

Needs nothing running: it starts the fake, migrates a throwaway SQLite database (or the
one DATABASE_URL names), and serves the app itself on a free loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.tests.uvicorn import Served, free_port, serve, stop  # noqa: E402


@dataclass
class Run:
    ttft_ms: list[float]
    total_ms: list[float]
    errors: int


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def read_direct(client: httpx2.AsyncClient, url: str) -> tuple[float, float]:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "bench"}],
        "stream": True,
    }
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if first is None and '"content": "' in line and '"content": ""' not in line:
                first = time.perf_counter()
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


async def read_switchboard(client: httpx2.AsyncClient, url: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if first is None and line == "event: delta":
                first = time.perf_counter()
            if line == "event: done":
                break
    if first is None:
        raise RuntimeError("no delta")
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


async def run_level(urls: list[str], reader, cookies: dict[str, str] | None = None) -> Run:  # noqa: ANN001
    limits = httpx2.Limits(max_connections=len(urls) + 10)
    async with httpx2.AsyncClient(timeout=120, limits=limits, cookies=cookies) as client:
        results = await asyncio.gather(*(reader(client, u) for u in urls), return_exceptions=True)
    good = [r for r in results if not isinstance(r, BaseException)]
    return Run([g[0] for g in good], [g[1] for g in good], len(results) - len(good))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_fake(tokens: int, token_delay: float) -> tuple[subprocess.Popen, str]:
    """The fake upstream in its own process, so its threads do not share this one's GIL."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "fakes.upstream", "--port", str(port)),
            *("--tokens", str(tokens), "--token-delay", str(token_delay)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()  # it prints one line once it listens
    return process, f"http://127.0.0.1:{port}/v1"


def prepare(env: dict[str, str], base_url: str, count: int) -> tuple[list[str], str]:
    """Create a user, a provider on the fake, and `count` pending answers; their URLs."""
    script = f"""
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from providers.models import Provider, LLMModel
from sessions_app.models import ChatSession
user, _ = User.objects.get_or_create(username="bench")
provider, _ = Provider.objects.get_or_create(name="Bench", defaults=dict(
    preset="custom", base_url="{base_url}", allow_private_network=True,
    api_key="sk-bench-0000000000000000", enabled=True))
model, _ = LLMModel.objects.get_or_create(provider=provider, model_id="gpt-4o")
store = SessionStore()
store["_auth_user_id"] = str(user.pk)
store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
store["_auth_user_hash"] = user.get_session_auth_hash()
store.create()
print(store.session_key)
for _ in range({count}):
    session = ChatSession.objects.create(owner=user)
    reply = session.start_turn(content="bench", model=model)[1]
    print(f"/chat/{{session.public_id}}/answers/{{reply.public_id}}/stream/")
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    paths = [line for line in out if line.startswith("/chat/")]
    return paths, out[out.index(paths[0]) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.02)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    env = os.environ | {
        "ENV_FILE": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEYS": os.environ.get(
            "FIELD_ENCRYPTION_KEYS", "Vq4U7ZvNnlSPyMz9Jd9H5mU1qVJm9s3ZpKx2pQ1v0aE="
        ),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}"),
        "STATIC_ROOT": str(workdir / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SESSION_COOKIE_SECURE": "False",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    fake, base_url = start_fake(args.tokens, args.token_delay)
    rows = []
    served: Served = serve(env)
    try:
        # Warm-up, not measured: the first stream builds the provider's client (TLS
        # context, connection pool) and fills the worker's caches.
        paths, session_key = prepare(env, base_url, 1)
        asyncio.run(
            run_level([served.url + paths[0]], read_switchboard, {"sessionid": session_key})
        )
        for level in args.levels:
            direct = asyncio.run(run_level([base_url + "/chat/completions"] * level, read_direct))
            paths, session_key = prepare(env, base_url, level)
            cookies = {"sessionid": session_key}
            urls = [served.url + p for p in paths]
            through = asyncio.run(run_level(urls, read_switchboard, cookies))
            rows.append((level, direct, through, rss_mb(served.process.pid)))
    finally:
        stop(served)
        fake.terminate()

    print(f"tokens={args.tokens} token_delay={args.token_delay}s\n")
    print(
        "| streams | direct TTFT p50 / p99 | Switchboard TTFT p50 / p99 | added TTFT p50 / p99 "
        "| added per token | errors | server RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for level, direct, through, rss in rows:
        d50, d99 = statistics.median(direct.ttft_ms), percentile(direct.ttft_ms, 0.99)
        s50, s99 = statistics.median(through.ttft_ms), percentile(through.ttft_ms, 0.99)
        per_token = (
            statistics.median(through.total_ms) - statistics.median(direct.total_ms)
        ) / args.tokens
        print(
            f"| {level} | {d50:.1f} / {d99:.1f} ms | {s50:.1f} / {s99:.1f} ms "
            f"| {s50 - d50:.1f} / {s99 - d99:.1f} ms | {per_token:.2f} ms "
            f"| {direct.errors + through.errors} | {rss:.0f} MB |"
        )


if __name__ == "__main__":
    main()
