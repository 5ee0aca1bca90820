"""How long the heavy pages take to arrive, signed in, warm, DEBUG off, under uvicorn.

Two catalogues, seeded through the ORM before (and between) the timings:
- two models: a chat of 500 messages (250 questions, each answered in a few paragraphs
  of Markdown with a code block), and a chat of two for comparison;
- 2,000 usable models (10 providers of 200): the chat of two (every chat page carries the
  picker), the Models page, and the admin's model list (as a superuser).

Each page is fetched a few times unmeasured, then timed over N requests, one at a time,
from the request to the last byte of the body.

    .venv/bin/python bench/pages.py                 # 50 requests a page
    .venv/bin/python bench/pages.py --requests 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app, proc  # noqa: E402
from bench.clients import new_client, sign_in  # noqa: E402

if TYPE_CHECKING:
    from providers.models import LLMModel

WARM_UP = 3


@dataclass(frozen=True)
class Page:
    name: str
    catalogue: str
    url: str
    target_ms: int | None
    client: str  # "person" or "admin"
    marker: str = ""  # text the page must hold this many times (marker_count)
    marker_count: int = 0


@dataclass(frozen=True)
class Timed:
    page: Page
    median_ms: float
    p90_ms: float
    kib: float


async def time_page(client: httpx2.AsyncClient, page: Page, requests: int) -> Timed:
    took = []
    for index in range(WARM_UP + requests):
        started = time.perf_counter()
        response = await client.get(page.url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{page.name}: HTTP {response.status_code} from {page.url}")
        if page.marker and response.text.count(page.marker) != page.marker_count:
            found = response.text.count(page.marker)
            raise RuntimeError(f"{page.name}: {found} × {page.marker!r}, not {page.marker_count}")
        if index >= WARM_UP:
            took.append(elapsed)
    ordered = sorted(took)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return Timed(page, statistics.median(took), p90, len(response.content) / 1024)


QUESTION = (
    "How should request {n} be cached so that two people asking at once never share an answer?"
)


def answer(n: int) -> str:
    """A few paragraphs of Markdown with a list and a code block, as models answer."""
    return f"""The short version: **the cache key must hold every input that changes the result**,
or two requests will share an answer they should not. For request {n} that means the path,
the person, and the version of the data it reads.

A few things follow from that:

1. Read the configuration once at startup, not on every request.
2. Keep the `timeout` bounded: a slow upstream should fail, not hang the worker.
3. Log the request id, never the key, and *never* the answer's body.

```python
def cache_key(request: Request, version: int = {n}) -> str:
    parts = [request.path, str(request.user_id), str(version)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def cached_answer(request: Request) -> Answer | None:
    return cache.get(cache_key(request))
```

If the upstream answers `429 Too Many Requests`, back off and retry once; more than that
only adds load where there is already too much. The [caching guide](https://example.com/docs/{n})
walks through the same steps with a worked example and the numbers behind each choice.
"""


def seed_catalogue(*, providers: int, models_each: int) -> LLMModel:
    """Providers with a key and their enabled models (added to what is there); the
    first provider's first model. Checks that exactly these are usable."""
    from providers.models import LLMModel, Provider

    for p in range(providers):
        provider, _ = Provider.objects.update_or_create(
            name=f"Provider {p:02}",
            defaults={
                "preset": "custom",
                "protocol": "openai",
                "base_url": f"https://api.provider{p}.example/v1",
                "api_key": f"sk-bench-{p:04}-0000000000000000",
                "enabled": True,
            },
        )
        have = set(provider.models.values_list("model_id", flat=True))
        LLMModel.objects.bulk_create(
            LLMModel(
                provider=provider,
                model_id=f"model-{p:02}-{m:03}",
                display_name=f"Model {m:03} of provider {p:02}",
                is_default=m == 0,
            )
            for m in range(models_each)
            if f"model-{p:02}-{m:03}" not in have
        )
    usable = LLMModel.objects.usable().count()
    if usable != providers * models_each:
        raise RuntimeError(f"{usable} usable models, not {providers * models_each}")
    return LLMModel.objects.order_by("provider__name", "model_id").first()


def seed_chat(*, owner: str, model: LLMModel, pairs: int) -> str:
    """A chat of `pairs` finished questions and answers; its page's URL."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    from sessions_app.models import ChatSession, Message, Role, Status

    session = ChatSession.objects.create(
        owner=User.objects.get(username=owner), title=f"{pairs * 2} messages", current_model=model
    )
    audit = {
        "llm_model": model,
        "model_id": model.model_id,
        "model_display_name": model.label,
        "provider_name": model.provider.name,
    }
    messages = []
    for n in range(pairs):
        messages.append(Message(session=session, role=Role.USER, content=QUESTION.format(n=n)))
        messages.append(
            Message(
                session=session,
                role=Role.ASSISTANT,
                content=answer(n),
                input_tokens=40 + n,
                output_tokens=260,
                ttft_ms=300,
                latency_ms=4200,
                **audit,
            )
        )
    for message in messages:
        message.status = Status.DONE
    Message.objects.bulk_create(messages)
    for before, message in itertools.pairwise(messages):  # one branch: a chat without edits
        message.parent_id = before.pk
    Message.objects.bulk_update(messages, ["parent"], batch_size=500)
    session.current_leaf = messages[-1]
    session.save(update_fields=["current_leaf"])
    return reverse("sessions_app:session", args=[session.public_id])


async def measure(server: app.Server, phases: list[list[Page]], requests: int) -> list[Timed]:
    """Each phase's pages; the catalogue grows between phases (`grow`)."""
    clients = {"person": new_client(base_url=server.url), "admin": new_client(base_url=server.url)}
    await sign_in(clients["person"], "reader")
    await sign_in(clients["admin"], "admin")
    results = []
    for number, pages in enumerate(phases):
        if number:
            await asyncio.to_thread(grow)
        for page in pages:
            results.append(await time_page(clients[page.client], page, requests))
            print(
                f"{page.name} ({page.catalogue}): {results[-1].median_ms:.0f} ms", file=sys.stderr
            )
    return results


def grow() -> None:
    """From two models to 2,000: ten providers of 200."""
    seed_catalogue(providers=10, models_each=200)
    app.close_connections()


def report(results: list[Timed], requests: int) -> str:
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {requests} requests a page after {WARM_UP} unmeasured; "
        f"1-minute load average {proc.load_average():.1f} at the end.",
        "",
        "| page | catalogue | median | p90 | target | size |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        target = f"< {r.page.target_ms} ms" if r.page.target_ms else "—"
        lines.append(
            f"| {r.page.name} | {r.page.catalogue} | {r.median_ms:.0f} ms | {r.p90_ms:.0f} ms "
            f"| {target} | {r.kib:.0f} KiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    env = app.environment(workdir)
    app.prepare(env)
    app.orm(env)
    from django.urls import reverse

    app.seed_users(["reader"])
    app.seed_users(["admin"], staff=True)
    model = seed_catalogue(providers=1, models_each=2)
    long_chat = seed_chat(owner="reader", model=model, pairs=250)
    short_chat = seed_chat(owner="reader", model=model, pairs=1)
    app.close_connections()
    small, large = "2 models", "2,000 models"
    phases = [
        [
            Page(
                "chat, 500 messages", small, long_chat, 60, "person", 'data-role="assistant"', 250
            ),
            Page("chat, 2 messages", small, short_chat, None, "person"),
        ],
        [
            Page("chat, 2 messages", large, short_chat, 40, "person"),
            Page("Models page", large, reverse("providers:models"), 60, "person"),
            Page(
                "admin model list",
                large,
                reverse("admin:providers_llmmodel_changelist"),
                100,
                "admin",
            ),
        ],
    ]
    server = app.serve(env, workers=args.workers, log=workdir / "switchboard.log")
    try:
        results = asyncio.run(measure(server, phases, args.requests))
    finally:
        app.stop(server)
    print(report(results, args.requests))


if __name__ == "__main__":
    main()
