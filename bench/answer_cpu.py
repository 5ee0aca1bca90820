"""What one answer costs the server in CPU, beside the floor and LiteLLM: answers one at
a time, so nothing queues and each figure is the work itself, not the wait.

For each round, each variant in turn (the order rotating with the round): `--answers`
answers one after the other, and the CPU its server process tree used meanwhile
(/proc, utime + stime) divided by their number; and the round's median time from a
request leaving to its first token, which at one answer at a time is the work on the
way to it with no queue. On Switchboard each answer is what a browser does, in a new
chat opened beforehand (untimed, its CPU not counted): Send, its response read to the
answer's `done`. On the floor and LiteLLM it is one streaming POST.

    .venv/bin/python bench/answer_cpu.py            # about 3 min
    .venv/bin/python bench/answer_cpu.py --variants switchboard --rounds 6
    git worktree add --detach /tmp/before HEAD~1
    .venv/bin/python bench/answer_cpu.py --variants switchboard --compare /tmp/before

--compare serves a second Switchboard from another checkout (its migrations the same as
this one's; the static files are this one's, collected once), on the same database and
fake, as one more variant: a change measured against the commit before it, round by
round in one run, rather than in two runs the machine's drift tells apart as much as the
change (the rounds' CPU here wanders by a quarter over minutes). The report then gives
the median of the paired per-round ratios, of the CPU and of the first token's time.

Prints a Markdown table for bench/README.md: the median over rounds, their range, and
the ratio to the floor's median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app, proc  # noqa: E402
from bench.clients import open_new_chat, send_and_stream  # noqa: E402
from bench.streams import Switchboard, Variant, _commit, _say, start_relays  # noqa: E402


class Round(NamedTuple):
    cpu_ms: float  # the server's, per answer
    ttft_ms: float  # the median answer's, from the request leaving to its first token


async def one_round(variant: Variant, answers: int) -> Round:
    pids = proc.tree(variant.server.process.pid)
    if isinstance(variant, Switchboard):
        client = variant.clients[0]
        chats = [await open_new_chat(client) for _ in range(answers)]
        before = proc.cpu_seconds(pids)
        timings = [await send_and_stream(client, chat) for chat in chats]
    else:
        await variant.ready(1)
        before = proc.cpu_seconds(pids)
        timings = [await variant.one(0) for _ in range(answers)]
    cpu_ms = (proc.cpu_seconds(pids) - before) * 1000 / answers
    return Round(cpu_ms, statistics.median(timing.ttft_ms for timing in timings))


async def run(variants: list[Variant], args: argparse.Namespace) -> dict[str, list[Round]]:
    for variant in variants:
        if isinstance(variant, Switchboard):
            await variant.sign_in()
        await one_round(variant, 10)  # warm-up, not counted
    measured: dict[str, list[Round]] = {variant.name: [] for variant in variants}
    for round_ in range(args.rounds):
        turn = round_ % len(variants)
        for variant in variants[turn:] + variants[:turn]:
            measured[variant.name].append(done := await one_round(variant, args.answers))
            _say(
                f"round {round_ + 1}/{args.rounds}, {variant.name}: {done.cpu_ms:.1f} ms CPU "
                f"per answer, first token {done.ttft_ms:.1f} ms"
            )
    return measured


def report(rounds: dict[str, list[Round]], args: argparse.Namespace) -> str:
    measured = {name: [r.cpu_ms for r in done] for name, done in rounds.items()}
    floor = statistics.median(measured["floor"]) if "floor" in measured else None
    lines = [
        f"{_commit()}; {args.rounds} rounds of {args.answers} answers one at a time; the fake "
        f"streams {args.tokens} tokens {args.token_delay * 1000:g} ms apart; one worker each; "
        f"1-minute load average {proc.load_average():.1f} at the end.",
        "",
        "| variant | server CPU per answer, median | range over rounds | × the floor's "
        "| first token, median of the rounds' medians |",
        "|---|---|---|---|---|",
    ]
    for name, values in measured.items():
        median = statistics.median(values)
        ratio = f"{median / floor:.1f}×" if floor else "—"
        spread = f"{min(values):.1f} to {max(values):.1f} ms"
        ttft = statistics.median(r.ttft_ms for r in rounds[name])
        lines.append(f"| {name} | {median:.1f} ms | {spread} | {ratio} | {ttft:.1f} ms |")
    if args.compare:
        compared = _compared(args)
        cpu = _paired(measured["switchboard"], measured[compared])
        here, there = rounds["switchboard"], rounds[compared]
        ttft = _paired([r.ttft_ms for r in here], [r.ttft_ms for r in there])
        lines += [
            "",
            f"Paired per round, this checkout over {compared}: CPU per answer "
            f"{cpu:.3f}, first token {ttft:.3f}.",
        ]
    return "\n".join(lines)


def _paired(here: list[float], there: list[float]) -> float:
    return statistics.median(mine / theirs for mine, theirs in zip(here, there, strict=True))


def _compared(args: argparse.Namespace) -> str:
    return f"switchboard at {_commit(args.compare)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--answers", type=int, default=100, help="per variant and round")
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["switchboard", "floor", "litellm"],
        choices=["switchboard", "floor", "litellm"],
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="also Switchboard served from this checkout (the same migrations), interleaved",
    )
    args = parser.parse_args()
    if args.compare and "switchboard" not in args.variants:
        parser.error("--compare measures against this checkout's Switchboard: keep its variant")
    workdir, env, fake = app.set_up(
        tokens=args.tokens, token_delay=args.token_delay, usernames=["bench-0"]
    )
    servers = [fake]
    try:
        variants: list[Variant] = []
        if "switchboard" in args.variants:
            servers.append(app.serve(env, workers=1, log=workdir / "switchboard.log"))
            variants.append(Switchboard(servers[-1], ["bench-0"]))
        if args.compare:
            log = workdir / "compared.log"
            servers.append(app.serve(env, workers=1, log=log, root=args.compare.resolve()))
            variants.append(Switchboard(servers[-1], ["bench-0"], name=_compared(args)))
        variants += start_relays(args.variants, fake, workdir, servers)
        measured = uvloop.run(run(variants, args))
    finally:
        app.stop(*servers)
    print(report(measured, args))


if __name__ == "__main__":
    main()
