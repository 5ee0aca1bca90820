"""What Switchboard adds to a streamed answer, beside a bare relay and LiteLLM's proxy.

Four ways to the same answer, measured interleaved in one run so that whatever else the
machine does hits them alike: for each repeat, for each level of concurrent streams, each
variant in turn (the order rotates with the repeat):

- direct: the fake upstream itself (fakes/upstream.py, in its own process), read as an
  OpenAI-compatible client reads it. The others are measured against it.
- switchboard: the app as a browser drives it, signed in beforehand: Send (the POST the
  page's composer makes), whose response carries the turn and then the answer's events,
  to its first `delta` and its `done`.
- floor: bench/floor_relay.py, Starlette and httpx2 passing the fake's bytes through.
- litellm: LiteLLM's proxy routing the model to the fake; no database, no telemetry.

"Added" is the variant's figure minus direct's from the same repeat. Server CPU and RSS
are the variant's server process and its children (the fake's, for direct).

    .venv/bin/python bench/streams.py             # 1, 10, 50 and 200 streams, 3 repeats
    .venv/bin/python bench/streams.py --quick     # 1 and 10 streams, 1 repeat

Needs nothing running: it starts the fake, migrates a throwaway SQLite database (or the
one DATABASE_URL names), installs the relays' venvs on first use, and serves them all on
free loopback ports. Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import httpx2
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app, proc, relays  # noqa: E402
from bench.clients import (  # noqa: E402
    BenchError,
    Composer,
    Timing,
    new_client,
    open_new_chat,
    openai_stream,
    send_and_stream,
    sign_in,
)

VARIANTS = ("direct", "switchboard", "floor", "litellm")
# Untimed work (sign-ins, new chats) goes this many at a time: all at once would only
# queue in the server.
SETUP_CONCURRENCY = 8
T = TypeVar("T")
# A pause between variants, so one's last connections close before the next starts.
SETTLE_SECONDS = 0.5


class Variant(Protocol):
    name: str
    server: app.Server  # whose process tree is measured

    async def ready(self, count: int) -> None:
        """Untimed preparation for `count` streams."""

    async def one(self, index: int) -> Timing:
        """The timed stream of client `index`."""


class OpenAICompatible:
    """Clients of an OpenAI chat completions endpoint: the fake, the floor, LiteLLM."""

    def __init__(self, name: str, server: app.Server, url: str, key: str = "sk-bench") -> None:
        self.name, self.server, self.url = name, server, url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.clients: list[httpx2.AsyncClient] = []

    async def ready(self, count: int) -> None:
        while len(self.clients) < count:
            self.clients.append(new_client(headers=self.headers))

    async def one(self, index: int) -> Timing:
        return await openai_stream(self.clients[index], self.url)


class Switchboard:
    """People in their browsers, each signed in once, each stream in a new chat."""

    def __init__(
        self, server: app.Server, usernames: list[str], *, name: str = "switchboard"
    ) -> None:
        self.name = name
        self.server = server
        self.usernames = usernames
        self.clients = [new_client(base_url=server.url) for _ in usernames]
        self.composers: list[Composer | BaseException] = []

    async def sign_in(self) -> None:
        pairs = zip(self.clients, self.usernames, strict=True)
        failed = [e for e in await _bounded([sign_in(c, u) for c, u in pairs]) if e is not None]
        if failed:
            raise SystemExit(f"{len(failed)} sign-ins failed, the first: {failed[0]}")

    async def ready(self, count: int) -> None:
        self.composers = await _bounded([open_new_chat(c) for c in self.clients[:count]])

    async def one(self, index: int) -> Timing:
        composer = self.composers[index]
        if isinstance(composer, BaseException):  # its stream fails with it: no chat to send in
            raise BenchError(f"opening a new chat failed: {_error_text(composer)}")
        return await send_and_stream(self.clients[index], composer)


def start_relays(
    names: list[str], fake: app.Server, workdir: Path, servers: list[app.Server]
) -> list[Variant]:
    """The floor and LiteLLM, those of them named, relaying `fake`; each server started is
    added to `servers`, for the caller to stop."""
    variants: list[Variant] = []
    if "floor" in names:
        servers.append(relays.start_floor(fake.url))
        url = f"{servers[-1].url}/v1/chat/completions"
        variants.append(OpenAICompatible("floor", servers[-1], url))
    if "litellm" in names:
        servers.append(relays.start_litellm(fake.url, workdir))
        url = f"{servers[-1].url}/v1/chat/completions"
        variants.append(OpenAICompatible("litellm", servers[-1], url, relays.LITELLM_KEY))
    return variants


async def _bounded(calls: list[Coroutine[None, None, T]]) -> list[T | BaseException]:
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def call(coroutine: Coroutine[None, None, T]) -> T:
        async with limit:
            return await coroutine

    return await asyncio.gather(*(call(c) for c in calls), return_exceptions=True)


@dataclass
class Outcome:
    """One variant at one level in one repeat."""

    repeat: int
    level: int
    variant: str
    timings: list[Timing]
    errors: list[str]
    rss_mb: float  # the most sampled while the level ran
    cpu_seconds: float
    load: float  # the 1-minute load average as the level ended


@dataclass(frozen=True)
class Profiling:
    """py-spy recording Switchboard's server while one level's streams run."""

    py_spy: str
    level: int
    into: Path

    def start(self, variant: Variant, level: int, repeat: int) -> subprocess.Popen | None:
        if variant.name != "switchboard" or level != self.level or repeat < 0:
            return None
        output = self.into / f"py-spy-{level}-streams-repeat-{repeat + 1}.txt"
        _say(f"profiling into {output}")
        # Non-blocking: pausing the server 500 times a second made its streams five times slower.
        command = [self.py_spy, "record", "--rate", "500", "--nonblocking", "--subprocesses"]
        command += ["--format", "raw"]
        command += ["--output", str(output), "--pid", str(variant.server.process.pid)]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def measure(variant: Variant, level: int, repeat: int, args: argparse.Namespace) -> Outcome:
    await variant.ready(level)
    recorder = args.profiling.start(variant, level, repeat) if args.profiling else None
    if recorder:
        await asyncio.sleep(1)  # py-spy attaching
    pids = proc.tree(variant.server.process.pid)
    peak = proc.rss_mb(pids)
    cpu_before = proc.cpu_seconds(pids)

    async def sample() -> None:
        nonlocal peak
        while True:
            await asyncio.sleep(0.05)
            peak = max(peak, proc.rss_mb(pids))

    sampler = asyncio.create_task(sample())
    streams = (asyncio.wait_for(variant.one(i), args.deadline) for i in range(level))
    results = await asyncio.gather(*streams, return_exceptions=True)
    sampler.cancel()
    cpu = proc.cpu_seconds(pids) - cpu_before
    if recorder:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        await asyncio.to_thread(recorder.wait)
    timings = [r for r in results if isinstance(r, Timing)]
    errors = [_error_text(r) for r in results if isinstance(r, BaseException)]
    return Outcome(repeat, level, variant.name, timings, errors, peak, cpu, proc.load_average())


def _error_text(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the deadline"
    return str(error) if isinstance(error, BenchError) else f"{type(error).__name__}: {error}"


async def run(args: argparse.Namespace, variants: list[Variant]) -> list[Outcome]:
    for variant in variants:
        if isinstance(variant, Switchboard):
            started = time.monotonic()
            await variant.sign_in()
            _say(f"{len(variant.clients)} people signed in ({time.monotonic() - started:.0f} s)")
    # Warm-up, not measured: the first streams build clients, pools and caches everywhere.
    for variant in variants:
        await measure(variant, min(10, max(args.levels)), -1, args)
    outcomes = []
    for repeat in range(args.repeats):
        turn = repeat % len(variants)
        for level in args.levels:
            for variant in variants[turn:] + variants[:turn]:
                outcome = await measure(variant, level, repeat, args)
                outcomes.append(outcome)
                _say(
                    f"repeat {repeat + 1}/{args.repeats}, {level} streams, {variant.name}: "
                    f"TTFT p50 {_pct([t.ttft_ms for t in outcome.timings], 0.5):.0f} ms, "
                    f"{len(outcome.errors)} errors, load {outcome.load:.1f}"
                )
                await asyncio.sleep(SETTLE_SECONDS)
    return outcomes


def _pct(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN when nothing was measured."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _duration(ms: float, sign: str = "") -> str:
    if abs(ms) < 100:
        return f"{ms:{sign}.1f} ms"
    return f"{ms:{sign}.0f} ms" if abs(ms) < 1000 else f"{ms / 1000:{sign}.2f} s"


def _spread(values: list[float], show: Callable[[float], str]) -> str:
    """The median across repeats, and their range when there were several."""
    values = [v for v in values if v == v]  # NaN: a repeat with nothing measured
    if not values:
        return "—"
    if len(values) == 1:
        return show(values[0])
    return f"{show(statistics.median(values))} ({show(min(values))} to {show(max(values))})"


def _at(outcome: Outcome, field: str, share: float) -> float:
    return _pct([getattr(t, field) for t in outcome.timings], share)


def _row(name: str, measured: list[Outcome], direct: dict[int, Outcome]) -> list[str]:
    """The cells of one variant at one level, from all its repeats."""

    def added(field: str, share: float) -> str:
        if name == "direct":
            return "—"
        own = [_at(o, field, share) - _at(direct[o.repeat], field, share) for o in measured]
        return _spread(own, lambda ms: _duration(ms, "+"))

    posts = [_at(o, "post_ms", 0.5) for o in measured] if name == "switchboard" else []
    errors = sum(len(o.errors) for o in measured)
    # Over all repeats at once: /proc counts in 10 ms ticks, a fifth of a second per
    # 1,000 tokens when one stream of 50 is all there is.
    tokens = sum(t.tokens for o in measured for t in o.timings)
    cpu = sum(o.cpu_seconds for o in measured) / tokens * 1000 if tokens else float("nan")
    return [
        _spread([_at(o, "ttft_ms", 0.5) for o in measured], _duration),
        added("ttft_ms", 0.5),
        added("ttft_ms", 0.99),
        added("total_ms", 0.5),
        _spread(posts, _duration) if posts else "—",
        f"{errors} of {sum(o.level for o in measured)}" if errors else "0",
        f"{max(o.rss_mb for o in measured):.0f} MB",
        f"{cpu:.2f} s",
        _spread([o.load for o in measured], "{:.1f}".format),
    ]


def report(outcomes: list[Outcome], args: argparse.Namespace, names: list[str]) -> str:
    loads = [o.load for o in outcomes]
    lines = [
        f"{time.strftime('%Y-%m-%d')}, commit {_commit()}, {os.cpu_count()} cores; "
        f"{args.repeats} repeat(s); the fake streams {args.tokens} tokens "
        f"{args.token_delay * 1000:.0f} ms apart; Switchboard on {args.workers} uvicorn "
        f"worker(s), {_database()}; LiteLLM {relays.litellm_version()}; 1-minute load "
        f"average {min(loads):.1f} to {max(loads):.1f} during the run.",
        "",
        "| streams | variant | TTFT p50 | added TTFT p50 | added TTFT p99 | added total p50 "
        "| Send to its turn p50 | errors | server RSS peak | server CPU per 1k tokens | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for level in args.levels:
        direct = {o.repeat: o for o in outcomes if o.variant == "direct" and o.level == level}
        for name in names:
            measured = [o for o in outcomes if o.variant == name and o.level == level]
            lines.append(
                "| " + " | ".join([str(level), name, *_row(name, measured, direct)]) + " |"
            )
            if errors := [e for o in measured for e in o.errors]:
                notes.append(f"- {name} at {level} streams, first error: {errors[0]}")
    return "\n".join(lines + (["", *notes] if notes else []))


def _commit(root: Path = ROOT) -> str:
    """The checkout's commit, "-dirty" after it when what ran had uncommitted changes."""
    command = ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=7"]
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def _database() -> str:
    return "PostgreSQL" if os.environ["DATABASE_URL"].startswith("postgres") else "SQLite"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _raise_file_limit() -> None:
    """200 streams hold about 800 sockets across the processes here, which inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < min(hard, 65536):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds")
    parser.add_argument("--workers", type=int, default=1, help="Switchboard's uvicorn workers")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS[1:],
        default=list(VARIANTS[1:]),
        help="which to measure beside direct, which always runs",
    )
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds per stream")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--quick", action="store_true", help="1 and 10 streams, 1 repeat")
    parser.add_argument(
        "--py-spy", help="this py-spy records Switchboard's server at --profile-level streams"
    )
    parser.add_argument("--profile-level", type=int, default=50)
    args = parser.parse_args()
    if args.quick:
        args.levels, args.repeats = [1, 10], 1
    return args


def main() -> None:
    args = parse_args()
    _raise_file_limit()
    usernames = [f"bench-{i}" for i in range(max(args.levels))]
    workdir, env, fake = app.set_up(
        tokens=args.tokens, token_delay=args.token_delay, usernames=usernames
    )
    args.profiling = args.py_spy and Profiling(args.py_spy, args.profile_level, workdir)
    servers = [fake]
    try:
        variants: list[Variant] = [OpenAICompatible("direct", fake, f"{fake.url}/chat/completions")]
        if "switchboard" in args.variants:
            servers.append(app.serve(env, workers=args.workers, log=workdir / "switchboard.log"))
            variants.append(Switchboard(servers[-1], usernames))
        variants += start_relays(args.variants, fake, workdir, servers)
        for variant in variants:
            _say(f"{variant.name}: server pid {variant.server.process.pid}")
        outcomes = uvloop.run(run(args, variants))
    finally:
        app.stop(*servers)
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    print(report(outcomes, args, [v.name for v in variants]))


if __name__ == "__main__":
    main()
