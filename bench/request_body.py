"""What sending an OpenAI-compatible request costs before its first token, by chat length.

The OpenAI runner (providers/runners/openai.py) posts its body through the SDK's `post()`;
the SDK's `chat.completions.create()` first walks every message against its typed dicts.
Both are timed here on the same client and connection, interleaved, as the CPU seconds
this process spends from the call to the first chunk (the fake upstream runs in a process
of its own and answers one token): that CPU runs on the server's event loop, where every
other stream of the worker waits for it.

    .venv/bin/python bench/request_body.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench import app

if TYPE_CHECKING:
    from providers.runners.base import ChatRequest
    from providers.runners.openai import OpenAIRunner

LENGTHS = (1, 20, 100, 300)  # messages in the chat, the question included
WORDS = "A question or an answer of a few sentences, as a chat holds them. " * 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with_env = app.environment(Path("/nonexistent"))
    app.orm(with_env | {"DATABASE_URL": "sqlite://:memory:"})
    fake = app.start_fake(tokens=1, token_delay=0)
    try:
        times = asyncio.run(measure(fake.url, args.rounds))
    finally:
        app.stop(fake)
    print(report(times, args.rounds))


async def measure(base_url: str, rounds: int) -> dict[tuple[str, int], list[float]]:
    from providers.runners.base import ChatMessage, ChatRequest, ProviderTarget
    from providers.runners.router import open_runner

    target = ProviderTarget(
        "Fake", "openai", base_url, "sk-bench-0000000000000000", allow_private_network=True
    )
    times: dict[tuple[str, int], list[float]] = {}
    async with open_runner(target) as runner:
        for round_ in range(rounds + 3):  # three unmeasured
            for length in LENGTHS:
                # Alternating, the question last.
                roles = ("assistant" if (length - i) % 2 == 0 else "user" for i in range(length))
                messages = tuple(ChatMessage(role, WORDS) for role in roles)
                request = ChatRequest(app.FAKE_MODEL, messages, {})
                variants = [("runner (post)", _runner), ("SDK create()", _create)]
                for name, first_chunk in variants[:: 1 if round_ % 2 else -1]:
                    started = time.process_time()
                    await first_chunk(runner, request)
                    if round_ >= 3:
                        times.setdefault((name, length), []).append(time.process_time() - started)
    return times


async def _runner(runner: OpenAIRunner, request: ChatRequest) -> None:
    async with aclosing(runner.stream(request)) as events:
        async for _event in events:
            return


async def _create(runner: OpenAIRunner, request: ChatRequest) -> None:
    chunks = await runner._client.chat.completions.create(
        model=request.model_id,
        messages=runner._messages(request),
        stream=True,
        stream_options={"include_usage": True},
    )
    async with chunks:
        async for _chunk in chunks:
            return


def report(times: dict[tuple[str, int], list[float]], rounds: int) -> str:
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {rounds} rounds after 3 unmeasured, "
        f"1-minute load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| messages in the chat | SDK create() CPU to first chunk | runner (post) | saved |",
        "|---|---|---|---|",
    ]
    for length in LENGTHS:
        create = statistics.median(times[("SDK create()", length)]) * 1000
        post = statistics.median(times[("runner (post)", length)]) * 1000
        lines.append(f"| {length} | {create:.2f} ms | {post:.2f} ms | {create - post:.2f} ms |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
