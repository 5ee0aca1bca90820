"""What one answer costs the server in CPU, beside the floor and LiteLLM: answers one at
a time, so nothing queues and each figure is the work itself, not the wait.

For each round, each variant in turn (the order rotating with the round): `--answers`
answers one after the other, and the CPU its server process tree used meanwhile
(/proc, utime + stime) divided by their number. On Switchboard each answer is what a
browser does, in a new chat opened beforehand (untimed, its CPU not counted): Send, its
response read to the answer's `done`. On the floor and LiteLLM it is one streaming POST.

    .venv/bin/python bench/answer_cpu.py            # about 3 min
    .venv/bin/python bench/answer_cpu.py --variants switchboard --rounds 6
    git worktree add --detach /tmp/before HEAD~1
    .venv/bin/python bench/answer_cpu.py --variants switchboard --compare /tmp/before

--compare serves a second Switchboard from another checkout (its migrations the same as
this one's; the static files are this one's, collected once), on the same database and
fake, as one more variant: a change measured against the commit before it, round by
round in one run, rather than in two runs the machine's drift tells apart as much as the
change (the rounds' CPU here wanders by a quarter over minutes). The report then gives
the median of the paired per-round ratios.

Prints a Markdown table for bench/README.md: the median over rounds, their range, and
the ratio to the floor's median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app, proc  # noqa: E402
from bench.clients import open_new_chat, send_and_stream  # noqa: E402
from bench.streams import Switchboard, Variant, _commit, _say, start_relays  # noqa: E402


async def cpu_ms_per_answer(variant: Variant, answers: int) -> float:
    pids = proc.tree(variant.server.process.pid)
    if isinstance(variant, Switchboard):
        client = variant.clients[0]
        chats = [await open_new_chat(client) for _ in range(answers)]
        before = proc.cpu_seconds(pids)
        for chat in chats:
            await send_and_stream(client, chat)
    else:
        await variant.ready(1)
        before = proc.cpu_seconds(pids)
        for _ in range(answers):
            await variant.one(0)
    return (proc.cpu_seconds(pids) - before) * 1000 / answers


async def run(variants: list[Variant], args: argparse.Namespace) -> dict[str, list[float]]:
    for variant in variants:
        if isinstance(variant, Switchboard):
            await variant.sign_in()
        await cpu_ms_per_answer(variant, 10)  # warm-up, not counted
    measured: dict[str, list[float]] = {variant.name: [] for variant in variants}  # by round
    for round_ in range(args.rounds):
        turn = round_ % len(variants)
        for variant in variants[turn:] + variants[:turn]:
            ms = await cpu_ms_per_answer(variant, args.answers)
            measured[variant.name].append(ms)
            _say(f"round {round_ + 1}/{args.rounds}, {variant.name}: {ms:.1f} ms CPU per answer")
    return measured


def report(measured: dict[str, list[float]], args: argparse.Namespace) -> str:
    floor = statistics.median(measured["floor"]) if "floor" in measured else None
    lines = [
        f"{_commit()}; {args.rounds} rounds of {args.answers} answers one at a time; the fake "
        f"streams {args.tokens} tokens {args.token_delay * 1000:g} ms apart; one worker each; "
        f"1-minute load average {proc.load_average():.1f} at the end.",
        "",
        "| variant | server CPU per answer, median | range over rounds | × the floor's |",
        "|---|---|---|---|",
    ]
    for name, values in measured.items():
        median = statistics.median(values)
        ratio = f"{median / floor:.1f}×" if floor else "—"
        spread = f"{min(values):.1f} to {max(values):.1f} ms"
        lines.append(f"| {name} | {median:.1f} ms | {spread} | {ratio} |")
    if args.compare:
        here, there = measured["switchboard"], measured[_compared(args)]
        paired = statistics.median(mine / theirs for mine, theirs in zip(here, there, strict=True))
        lines += ["", f"Paired per round, this checkout over {_compared(args)}: {paired:.3f}."]
    return "\n".join(lines)


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
