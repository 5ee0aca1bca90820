"""A fake uni-api: a real HTTP server on 127.0.0.1 that reads an api.yaml as uni-api does
(again on every request, as its runtimes reload the file) and answers GET /v1/models for
a client key the way its model rules read (github yym68686/uni-api, README "api_keys"):
`all` is every model every provider serves; `name` every provider's model of that name;
`<vendor/model>` the name with its slash; `provider/model` and `provider/*` that
provider's. A provider without a model list is dropped, as the Rust runtime drops it. An
unknown or missing key is a 403, as uni-api answers it.

    with serving(FakeUniApi(path)) as uniapi:
        uniapi.url        # http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from fakes.upstream import in_background


@dataclass
class FakeUniApi:
    path: Path
    url: str = ""

    def models_for(self, key: str) -> list[str] | None:
        """The model ids `key` may use, or None for a key the file does not have."""
        config = yaml.safe_load(self.path.read_text()) or {}
        served: dict[str, list[str]] = {}  # provider → its model names (aliases)
        for provider in config.get("providers") or []:
            names = [_alias(entry) for entry in provider.get("model") or []]
            if provider.get("provider") and names:
                served[provider["provider"]] = names
        everything = sorted({name for names in served.values() for name in names})
        for client in config.get("api_keys") or []:
            if client.get("api") != key:
                continue
            found: set[str] = set()
            for rule in client.get("model") or ["all"]:
                found.update(_matching(str(rule), served, everything))
            return sorted(found)
        return None


def _alias(entry: Any) -> str:
    if isinstance(entry, dict):
        ((_upstream, alias),) = entry.items()
        return str(alias)
    return str(entry)


def _matching(rule: str, served: dict[str, list[str]], everything: list[str]) -> list[str]:
    if rule == "all":
        return everything
    if rule.startswith("<") and rule.endswith(">"):
        return [name for name in everything if name == rule[1:-1]]
    if "/" in rule:
        provider, _, model = rule.partition("/")
        names = served.get(provider, [])  # not a provider's name: silently nothing
        return names if model == "*" else [name for name in names if name == model]
    return [name for name in everything if name == rule]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeUniApi

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/v1/models":
            self._json(404, {"detail": "Not Found"})
            return
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        models = self.fake.models_for(key)
        if models is None:
            self._json(403, {"detail": "Invalid or missing API Key"})
            return
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "uni-api"} for m in models]
        self._json(200, {"object": "list", "data": data})

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(fake: FakeUniApi) -> Iterator[FakeUniApi]:
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_port}"
    with in_background(server):
        yield fake
