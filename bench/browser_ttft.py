"""From pressing Enter to the first token on the screen, in a real browser, at one user.

Chromium (Debian's, through Playwright) signs in, opens a new chat, types a message and
presses Enter. The page itself keeps the times, on its own clock: a keydown listener notes
Enter, and a MutationObserver notes when the first text arrives in the answer's stream
target (and the frame after it, when it is painted). Both are injected over CDP before the
page's scripts run, which the Content-Security-Policy, forbidding inline script, allows.
Between two browser runs the bench reads the fake upstream directly, so the difference is
what the browser, the page's scripts and Switchboard add together.

With --first-message each run sends from the start page instead, as a person starting a
chat does: Send creates the chat, and its response brings the chat's page (before 637b736
the page loaded it, and its answer opened its own stream). The times are the epoch's (the
page's clock origin plus its clock), and Enter's is kept in the tab's sessionStorage, so
they span two documents where a page loads in between.

    .venv/bin/python bench/browser_ttft.py              # 20 runs
    .venv/bin/python bench/browser_ttft.py --runs 50
    .venv/bin/python bench/browser_ttft.py --first-message
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TypeVar

import httpx2
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app, proc  # noqa: E402
from bench.clients import new_client, openai_stream  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
WARM_UP = 2
CHAT = re.compile(r"/chat/[0-9a-f-]{36}/$")
T = TypeVar("T")

# Runs in every document before its own scripts. `[sse-swap="html"]` is where each `html`
# event goes, the answer so far formatted (static/js/send.js); until the first, it holds
# the "Waiting for …" line (`.waiting`).
WATCH = """
const benchNow = () => performance.timeOrigin + performance.now();
window.__bench = {
  enter: Number(sessionStorage.getItem("benchEnter")) || null, token: null, painted: null,
  page: performance.timeOrigin,
};
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.id === "id_content" && window.__bench.enter === null) {
    window.__bench.enter = benchNow();
    sessionStorage.setItem("benchEnter", String(window.__bench.enter));
  }
}, true);
new MutationObserver(() => {
  const bench = window.__bench;
  if (bench.enter === null || bench.token !== null) return;
  const target = document.querySelector('[sse-swap="html"]');
  if (target && target.textContent.trim() && !target.querySelector(".waiting")) {
    bench.token = benchNow();
    sessionStorage.removeItem("benchEnter");
    requestAnimationFrame(() => { bench.painted = benchNow(); });
  }
}).observe(document, { childList: true, subtree: true, characterData: true });
"""

# Where the wait went, from the page's resource timings: the POST of the message, whose
# response carries the turn (or a new chat's page) and then the answer; null when the URL
# changed shape, or when the chat's page loaded after Enter (the POST was the page
# before's: the first message before 637b736, HX-Redirect to the chat's page).
TIMES = """() => {
  const post = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/send/"));
  const at = (time) => (post ? performance.timeOrigin + time : null);
  const bench = window.__bench;
  return {
    ...bench, postStart: at(post?.startTime), postHeaders: at(post?.responseStart),
    page: bench.page > bench.enter ? bench.page : null,  // a page loaded after Enter
  };
}"""


class Direct:
    """Reads the fake directly from an event loop in a thread of its own, since
    Playwright's sync API holds this one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = self._run(self._new_client())

    async def _new_client(self) -> httpx2.AsyncClient:  # made on the loop that uses it
        return new_client(headers={"Authorization": "Bearer sk-bench"})

    def _run(self, coroutine: Coroutine[None, None, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def ttft_ms(self) -> float:
        return self._run(openai_stream(self.client, self.url)).ttft_ms


def measure(server: app.Server, direct: Direct, runs: int, *, first_message: bool) -> list[dict]:
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(f"{server.url}/accounts/login/")
        page.get_by_label("Username").fill("browser")
        page.get_by_label("Password").fill(app.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{server.url}/")
        for run in range(WARM_UP + runs):
            if first_message:
                page.goto(f"{server.url}/")
            else:
                page.get_by_role("button", name="New chat").click()
                page.wait_for_url(CHAT)
            box = page.get_by_label("Message")
            box.fill("bench")
            box.press("Enter")
            if first_message:
                page.wait_for_url(CHAT)
            page.wait_for_function("() => window.__bench.painted !== null", timeout=60_000)
            page.locator('[data-role="assistant"][data-status="done"]').wait_for(timeout=60_000)
            times = page.evaluate(TIMES)
            times["direct"] = direct.ttft_ms()
            if run >= WARM_UP:
                results.append(times)
            print(
                f"run {run + 1 - WARM_UP}: {times['token'] - times['enter']:.1f} ms in the page, "
                f"{times['direct']:.1f} ms direct",
                file=sys.stderr,
            )
        browser.close()
    return results


def report(results: list[dict], *, first_message: bool) -> str:
    def median(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):.1f} ms" if known else "—"

    def span(start: str, end: str) -> list[float | None]:
        return [
            r[end] - r[start] if r[start] is not None and r[end] is not None else None
            for r in results
        ]

    rows = [
        ("Enter to first token in the page", median(span("enter", "token"))),
        ("Enter to the frame showing it", median(span("enter", "painted"))),
        ("direct: the fake's own TTFT", median([r["direct"] for r in results])),
        (
            "**added** (in the page minus direct, per pair)",
            median([r["token"] - r["enter"] - r["direct"] for r in results]),
        ),
        ("of which: Enter to the POST leaving", median(span("enter", "postStart"))),
        ("the POST to its response's headers (Send)", median(span("postStart", "postHeaders"))),
        ("its headers to the first token", median(span("postHeaders", "token"))),
    ]
    if any(r["page"] is not None for r in results):  # the POST was another page's
        rows[4:] = [
            ("of which: Enter to the chat's page starting to load", median(span("enter", "page"))),
            ("the chat's page starting to load to the first token", median(span("page", "token"))),
        ]
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {len(results)} runs after {WARM_UP} unmeasured, one user, "
        f"{'the first message of a new chat, ' if first_message else ''}"
        f"1-minute load average {proc.load_average():.1f} at the end.",
        "",
        "| what | median |",
        "|---|---|",
    ]
    return "\n".join(lines + [f"| {what} | {value} |" for what, value in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--first-message", action="store_true", help="send from the start page, a new chat"
    )
    args = parser.parse_args()
    workdir, env, fake = app.set_up(
        tokens=args.tokens, token_delay=args.token_delay, usernames=["browser"]
    )
    servers = [fake]
    try:
        servers.append(app.serve(env, workers=args.workers, log=workdir / "switchboard.log"))
        direct = Direct(f"{fake.url}/chat/completions")
        results = measure(servers[-1], direct, args.runs, first_message=args.first_message)
    finally:
        app.stop(*servers)
    print(report(results, first_message=args.first_message))


if __name__ == "__main__":
    main()
