"""What recording usage adds to an answer's end: the end's database trip with and without it.

An answer ends in one trip (`streaming._Ending.save`): the message's final text, its HTML
and its audit; with usage, also one UsageRecord per try and the quota's reservation
settled. Both are timed here, interleaved, on answers claimed and ready to end (a
throwaway SQLite database, or the one DATABASE_URL names), the rendering of the same
short Markdown answer included in both.

    .venv/bin/python bench/usage_recording.py              # 300 answers each
    .venv/bin/python bench/usage_recording.py --answers 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app  # noqa: E402

ANSWER = "Here is **the answer**, with `code` and a list:\n\n- one\n- two\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=300, help="answers ended per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as workdir:
        env = app.environment(Path(workdir))
        app.prepare(env)
        app.orm(env)
        print(table(run(args.answers)))


def run(answers: int) -> dict[str, list[float]]:
    from decimal import Decimal

    from django.contrib.auth.models import User

    from providers.models import LLMModel, Tier
    from sessions_app import streaming
    from sessions_app.models import ChatSession, Status
    from sessions_app.streaming import _Ending
    from usage.models import Outcome

    model_pk = app.seed_fake_provider("http://127.0.0.1:9/v1")  # never called
    LLMModel.objects.filter(pk=model_pk).update(
        input_price=Decimal("2.5"), output_price=Decimal("10")
    )
    Tier.objects.create(name="Everyone", is_default=True, daily_token_quota=10**9)
    app.seed_users(["bench"])
    user = User.objects.get(username="bench")
    model = LLMModel.objects.get(pk=model_pk)
    times: dict[str, list[float]] = {"end without usage": [], "end with usage": []}
    for n in range(answers * 2):
        session = ChatSession.objects.create(owner=user)
        reply = session.start_turn(content="Say hello", model=model)[1]
        start = streaming.claim(reply)
        if not isinstance(start, streaming.Start):
            raise RuntimeError(f"the answer could not start: {start}")
        with_usage = n % 2 == 0
        attempt = start.chain.begin(start.candidate)
        attempt.first_token()
        ending = _Ending(reply, start.chain if with_usage else None, attempt, ANSWER, 0.0, 100)
        began = time.perf_counter()
        ending.save(Status.DONE, "", Outcome.OK)
        times["end with usage" if with_usage else "end without usage"].append(
            (time.perf_counter() - began) * 1000
        )
    return times


def table(times: dict[str, list[float]]) -> str:
    lines = ["| the answer's end | median | p90 |", "|---|---|---|"]
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        lines.append(f"| {name} | {statistics.median(values):.2f} ms | {p90:.2f} ms |")
    added = statistics.median(times["end with usage"]) - statistics.median(
        times["end without usage"]
    )
    lines.append(f"| **added by usage** (difference of the medians) | {added:.2f} ms | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
