"""A fake GPT-Load (v1.4.x) management API: a real HTTP server on 127.0.0.1 that answers
as tbphp/gpt-load's source does (docs: the team's GPT-Load reference, §8.1 "what a
faithful fake must reproduce"), with faults a test can script and a record of every call.

    gptload = FakeGPTLoad(auth_key="…")
    with serving(gptload):                       # or the `fake_gptload` fixture
        gptload.url                              # http://127.0.0.1:PORT
        gptload.faults.append(GPTLoadFault(status=500))   # the next API call only
        gptload.writes()                         # the calls that changed something
        gptload.groups[1]["name"]

What it reproduces: the routes (no GET /api/groups/{id}; an unknown route or method is a
404 `{"error":"Not Found"}` before any auth; a trailing slash redirects), the auth (?key=
first, then `Bearer ` exactly, X-Api-Key, X-Goog-Api-Key), the envelope (success code int
0 with `data` left out when nil; errors with a string code), messages in zh-CN unless
Accept-Language starts with en (the literal id `validation.invalid_model_redirect`), group
create and update validation in the source's order, 409 on a duplicate name, the delete
cascade (keys and sub-group links both ways, aggregates left empty), sub-groups (additive
POST, its check order, weight 0..1000, one channel and one key-check path, no nesting, a
duplicate id in one request is "not found", an existing member 400), keys (add-multiple:
required fields as INVALID_JSON, the split rule or a JSON array, per-group dedupe, the
5,000 cap, its three counts; keys listed back in plaintext), list order sort asc, id desc.
Left out, as the reference allows: logs, dashboard, settings, export, copy, key
validation, reorder, the proxy. `version="v2"` serves v2's different API instead (GET
/api/health, no /health), for a client's refusal. Messages the reference does not quote
are stand-ins in the source's style; a client must never match on message text anyway.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakes.upstream import NOT_JSON, Gate, in_background, read_request

CHANNEL_TYPES = ("openai", "openai-response", "anthropic", "gemini")
DEFAULT_ENDPOINTS = {
    "openai": "/v1/chat/completions",
    "openai-response": "/v1/responses",
    "anthropic": "/v1/messages",
    "gemini": "",
}
GROUP_NAME = re.compile(r"[a-z0-9_-]{1,100}")
KEYS_CAP = 5000
CONFIG_INTS = {
    "request_timeout": 1,
    "idle_conn_timeout": 1,
    "connect_timeout": 1,
    "max_idle_conns": 1,
    "max_idle_conns_per_host": 1,
    "response_header_timeout": 1,
    "max_retries": 0,
    "blacklist_threshold": 0,
    "key_validation_interval_minutes": 1,
    "key_validation_concurrency": 1,
    "key_validation_timeout_seconds": 1,
}
CONFIG_OTHER = {"proxy_url", "failover_status_codes", "enable_request_body_logging"}

# message id → (en-US, zh-CN); None for zh: the reference quotes only the English.
MESSAGES: dict[str, tuple[str, str | None]] = {
    "success": ("Success", "操作成功"),
    "validation.invalid_group_name": (
        "Invalid group name. Can only contain lowercase letters, numbers, hyphens or "
        "underscores, 1-100 characters",
        "无效的分组名称。只能包含小写字母、数字、中划线或下划线，长度1-100位",
    ),
    "validation.invalid_channel_type": (
        "Invalid channel type. Supported types: {types}",
        "无效的通道类型。支持的类型有: {types}",
    ),
    "validation.invalid_group_type": (
        "Invalid group type, must be 'standard' or 'aggregate'",
        "无效的分组类型，必须为'standard'或'aggregate'",
    ),
    "validation.test_model_required": ("Test model is required", "测试模型是必需的"),
    "validation.test_model_empty": ("Test model cannot be empty", None),
    "validation.invalid_upstreams": (
        "Invalid upstreams configuration: {error}",
        "upstreams配置错误: {error}",
    ),
    "validation.invalid_test_path": (
        "Invalid test path. If provided, must be a valid path starting with / and not a full URL.",
        None,
    ),
    "error.invalid_config_format": ("Invalid config format: {error}", "无效的配置格式: {error}"),
    "validation.duplicate_header": ("Duplicate header: {key}", None),
    "validation.aggregate_no_model_redirect": (
        "Aggregate groups do not support model redirect rules",
        "聚合分组不支持配置模型重定向规则",
    ),
    "validation.invalid_group_id": ("Invalid group ID format", "无效的分组ID格式"),
    "validation.sub_group_referenced_cannot_modify": (
        "This group is used by {count} aggregate groups: its channel type and test path "
        "cannot change",
        None,
    ),
    "group.not_found": ("Group not found", "分组不存在"),
    "group.not_aggregate": ("Group is not an aggregate group", None),
    "validation.sub_groups_required": ("Aggregate group must contain at least one sub-group", None),
    "validation.invalid_sub_group_id": ("Invalid sub-group ID", None),
    "validation.sub_group_weight_negative": ("Sub-group weight cannot be negative", None),
    "validation.sub_group_weight_max_exceeded": ("Sub-group weight cannot exceed 1000", None),
    "validation.sub_group_not_found": ("One or more sub-groups not found", None),
    "validation.sub_group_cannot_be_aggregate": ("Sub-groups cannot be aggregate groups", None),
    "validation.sub_group_channel_mismatch": (
        "All sub-groups must use the same channel type",
        None,
    ),
    "validation.sub_group_validation_endpoint_mismatch": (
        "All sub-groups must use the same validation endpoint",
        None,
    ),
    "group.sub_group_already_exists": ("Sub group {sub_group_id} already exists", None),
    "group.sub_group_not_found": ("Sub group not found", None),
    "validation.keys_text_empty": ("Keys text cannot be empty", "密钥文本不能为空"),
    "group.deleted": ("Group and related keys deleted successfully", "分组及相关密钥删除成功"),
    "group.sub_groups_added": ("Sub groups added successfully", "子分组添加成功"),
    "group.sub_group_weight_updated": ("Sub group weight updated successfully", None),
    "group.sub_group_deleted": ("Sub group deleted successfully", None),
    "keys.cleared": ("{count} keys cleared", None),
}


@dataclass
class GPTLoadFault:
    """How to misbehave on one authenticated API call."""

    status: int | None = None  # answer this status with the envelope's error body
    code: str = "INTERNAL_SERVER_ERROR"
    message: str = "An unexpected error occurred"
    body: bytes | None = None  # this raw body instead (with `status`, or 200)
    path_prefix: str = ""  # only for a call whose path starts with this (else next call)
    # Wait here until the test opens it; then, with no status or body, answer as usual.
    hold: Gate | None = None


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, None when absent or not JSON

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PUT", "DELETE")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeGPTLoad:
    auth_key: str = "gptload-auth-key-for-tests"
    version: str = "v1"  # "v2": the rewrite's API, which a v1 client must refuse
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, list[str]] = field(default_factory=dict)  # group id → keys, in order
    members: dict[int, dict[int, int]] = field(default_factory=dict)  # aggregate → {sub: weight}
    faults: list[GPTLoadFault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.writes]

    def add_group(self, **fields: Any) -> dict[str, Any]:
        """A group made outside the API's checks: a foreign group, a fixture."""
        with self._lock:
            return self._insert(_group_row(fields))

    def _insert(self, row: dict[str, Any]) -> dict[str, Any]:
        row["id"] = self._next_id
        self._next_id += 1
        now = datetime.now(UTC).isoformat()
        row.setdefault("created_at", now)
        row["updated_at"] = now
        self.groups[row["id"]] = row
        self.keys.setdefault(row["id"], [])
        if row["group_type"] == "aggregate":
            self.members.setdefault(row["id"], {})
        return row

    def next_fault(self, path: str) -> GPTLoadFault | None:
        with self._lock:
            for n, fault in enumerate(self.faults):
                if path.startswith(fault.path_prefix):
                    return self.faults.pop(n)
        return None

    # --- the API, under the lock: each call sees the one before it whole -----------

    def answer(self, call: Call) -> tuple[int, Any]:
        with self._lock:
            return _Api(self, call).route()


def _group_row(fields: dict[str, Any]) -> dict[str, Any]:
    aggregate = fields.get("group_type") == "aggregate"
    return {
        "name": fields.get("name", ""),
        "display_name": fields.get("display_name", ""),
        "description": fields.get("description", ""),
        "group_type": "aggregate" if aggregate else "standard",
        "upstreams": [] if aggregate else fields.get("upstreams", []),
        "channel_type": fields.get("channel_type", "openai"),
        "sort": fields.get("sort", 0),
        "test_model": "-" if aggregate else fields.get("test_model", ""),
        "validation_endpoint": "" if aggregate else fields.get("validation_endpoint", ""),
        "param_overrides": fields.get("param_overrides"),
        "model_redirect_rules": fields.get("model_redirect_rules") or {},
        "model_redirect_strict": bool(fields.get("model_redirect_strict", False)),
        "config": fields.get("config"),
        "header_rules": fields.get("header_rules", []),
        "proxy_keys": fields.get("proxy_keys", ""),
        "last_validated_at": None,
    }


class _Api:
    def __init__(self, fake: FakeGPTLoad, call: Call) -> None:
        self.fake = fake
        self.call = call
        self.english = call.headers.get("accept-language", "").lower().startswith("en")

    # --- envelope and messages -----------------------------------------------------

    def text(self, message_id: str, **values: Any) -> str:
        if message_id not in MESSAGES:
            return message_id  # as GPT-Load renders an id no locale has
        en, zh = MESSAGES[message_id]
        return (en if self.english or zh is None else zh).format(**values)

    def ok(self, data: Any = None, message_id: str = "success", **values: Any) -> tuple[int, Any]:
        body: dict[str, Any] = {"code": 0, "message": self.text(message_id, **values)}
        if data is not None:
            body["data"] = data
        return 200, body

    def invalid(self, message_id: str, **values: Any) -> _Refusal:
        return _Refusal(400, "VALIDATION_FAILED", self.text(message_id, **values))

    # --- routing -------------------------------------------------------------------

    def handler(self) -> tuple[Any, tuple[str, ...]] | None:
        """The method serving this call and its path's values; None: gin's NoRoute."""
        for method, pattern, name in ROUTES:
            match = re.fullmatch(pattern, self.call.path)
            if match and method == self.call.method:
                return getattr(self, name), match.groups()
        return None

    def route(self) -> tuple[int, Any]:
        found = self.handler()
        if found is None:
            return 404, {"error": "Not Found"}
        handler, values = found
        try:
            return handler(*values)
        except _Refusal as refusal:
            return refusal.status, {"code": refusal.code, "message": refusal.message}

    def json_body(self) -> Any:
        raw = self.call.body
        if raw is None:
            raise _Refusal(400, "INVALID_JSON", "EOF")
        if raw is NOT_JSON:
            raise _Refusal(400, "INVALID_JSON", "invalid character looking for beginning of value")
        return raw

    def group_id(self, text: str, message_id: str = "validation.invalid_group_id") -> int:
        if not text.isdigit():
            raise _Refusal(400, "BAD_REQUEST", self.text(message_id))
        return int(text)

    def found(self, group_id: int) -> dict[str, Any]:
        if group_id not in self.fake.groups:
            raise _Refusal(404, "NOT_FOUND", "Resource not found")
        return self.fake.groups[group_id]

    def response(self, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": group["id"],
            "name": group["name"],
            "endpoint": f"{self.fake.url}/proxy/{group['name']}",
            **{k: v for k, v in group.items() if k not in ("id", "name")},
        }

    # --- groups --------------------------------------------------------------------

    def channel_types(self) -> tuple[int, Any]:
        return self.ok(list(CHANNEL_TYPES))

    def list_groups(self) -> tuple[int, Any]:
        ordered = sorted(self.fake.groups.values(), key=lambda g: (g["sort"], -g["id"]))
        return self.ok([self.response(g) for g in ordered])

    def create_group(self) -> tuple[int, Any]:
        body = self.json_body()
        _types(body, GROUP_FIELDS)
        name = str(body.get("name", "")).strip()
        if not GROUP_NAME.fullmatch(name):
            raise self.invalid("validation.invalid_group_name")
        channel = str(body.get("channel_type", "")).strip()
        if channel not in CHANNEL_TYPES:
            raise self.invalid("validation.invalid_channel_type", types=", ".join(CHANNEL_TYPES))
        group_type = body.get("group_type") or "standard"
        if group_type not in ("standard", "aggregate"):
            raise self.invalid("validation.invalid_group_type")
        fields = dict(body, name=name, channel_type=channel, group_type=group_type)
        if group_type == "standard":
            fields["test_model"] = str(body.get("test_model", "")).strip()
            if not fields["test_model"]:
                raise self.invalid("validation.test_model_required")
            fields["upstreams"] = self.upstreams(body, present="upstreams" in body)
            self.check_path(body.get("validation_endpoint", ""))
        self.check_common(body, aggregate=group_type == "aggregate")
        if any(g["name"] == name for g in self.fake.groups.values()):
            raise _Refusal(409, "DUPLICATE_RESOURCE", "Resource already exists")
        return self.ok(self.response(self.fake._insert(_group_row(fields))))

    def upstreams(self, body: dict, *, present: bool) -> list[dict[str, Any]]:
        value = body.get("upstreams")
        if not present:
            raise self.invalid("validation.invalid_upstreams", error="upstreams field is required")
        if not value:
            raise self.invalid(
                "validation.invalid_upstreams", error="at least one upstream is required"
            )
        if not isinstance(value, list) or not all(isinstance(u, dict) for u in value):
            raise self.invalid(
                "validation.invalid_upstreams",
                error="json: cannot unmarshal into Go value of type []services.UpstreamDefinition",
            )
        cleaned = []
        for upstream in value:
            url = str(upstream.get("url", "")).strip()
            weight = upstream.get("weight", 0)
            if not url:
                raise self.invalid(
                    "validation.invalid_upstreams", error="upstream URL cannot be empty"
                )
            if not url.startswith(("http://", "https://")):
                raise self.invalid(
                    "validation.invalid_upstreams", error=f"invalid URL format for upstream: {url}"
                )
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise self.invalid(
                    "validation.invalid_upstreams",
                    error="upstream weight must be a non-negative integer",
                )
            cleaned.append({"url": url, "weight": weight})
        if not any(u["weight"] > 0 for u in cleaned):
            raise self.invalid(
                "validation.invalid_upstreams",
                error="at least one upstream must have a weight greater than 0",
            )
        return cleaned

    def check_path(self, path: str) -> None:
        if path and (not path.startswith("/") or "://" in path):
            raise self.invalid("validation.invalid_test_path")

    def check_common(self, body: dict, *, aggregate: bool) -> None:
        config = body.get("config")
        if isinstance(config, dict):
            for key, value in config.items():
                if key not in CONFIG_INTS and key not in CONFIG_OTHER:
                    raise self.invalid(
                        "error.invalid_config_format", error=f"unknown config field: '{key}'"
                    )
                if key in CONFIG_INTS and isinstance(value, int | float) and value is not None:
                    if value != int(value):
                        raise self.invalid(
                            "error.invalid_config_format",
                            error=f"invalid value for {key}: must be an integer",
                        )
                    if value < CONFIG_INTS[key]:
                        raise self.invalid(
                            "error.invalid_config_format",
                            error=f"value for {key} ({int(value)}) is below minimum value "
                            f"({CONFIG_INTS[key]})",
                        )
        seen = set()
        for rule in body.get("header_rules") or []:
            key = "-".join(part.capitalize() for part in str(rule.get("key", "")).split("-"))
            if key and key in seen:
                raise self.invalid("validation.duplicate_header", key=key)
            seen.add(key)
        rules = body.get("model_redirect_rules") or {}
        if aggregate and rules:
            raise self.invalid("validation.aggregate_no_model_redirect")
        if any(not str(k).strip() or not str(v).strip() for k, v in rules.items()):
            raise _Refusal(400, "VALIDATION_FAILED", "validation.invalid_model_redirect")

    def update_group(self, id_text: str) -> tuple[int, Any]:
        group_id = self.group_id(id_text)
        body = self.json_body()
        _types(body, GROUP_FIELDS)
        group = self.found(group_id)
        changes: dict[str, Any] = {}
        aggregate = group["group_type"] == "aggregate"
        if "name" in body:
            name = str(body["name"]).strip()
            if not GROUP_NAME.fullmatch(name):
                raise self.invalid("validation.invalid_group_name")
            changes["name"] = name
        for key in ("display_name", "description", "proxy_keys"):
            if key in body:
                changes[key] = str(body[key]).strip()
        if "upstreams" in body:
            changes["upstreams"] = self.upstreams(body, present=True)
        parents = [a for a, subs in self.fake.members.items() if group_id in subs]
        moves = ("channel_type" in body and body["channel_type"] != group["channel_type"]) or (
            "validation_endpoint" in body
            and body["validation_endpoint"] != group["validation_endpoint"]
        )
        if not aggregate and parents and moves:
            raise self.invalid("validation.sub_group_referenced_cannot_modify", count=len(parents))
        if "channel_type" in body and not aggregate:
            channel = str(body["channel_type"]).strip()
            if channel not in CHANNEL_TYPES:
                raise self.invalid(
                    "validation.invalid_channel_type", types=", ".join(CHANNEL_TYPES)
                )
            changes["channel_type"] = channel
        if "sort" in body:
            changes["sort"] = body["sort"]
        if body.get("test_model") is not None and body["test_model"] != "":
            if not str(body["test_model"]).strip():
                raise self.invalid("validation.test_model_empty")
            changes["test_model"] = str(body["test_model"]).strip()
        if "param_overrides" in body:
            changes["param_overrides"] = body["param_overrides"]
        self.check_common(
            {"model_redirect_rules": body.get("model_redirect_rules")}, aggregate=aggregate
        )
        if "model_redirect_rules" in body:
            changes["model_redirect_rules"] = body["model_redirect_rules"] or {}
        if "model_redirect_strict" in body:
            changes["model_redirect_strict"] = body["model_redirect_strict"]
        if "validation_endpoint" in body:
            self.check_path(body["validation_endpoint"])
            changes["validation_endpoint"] = body["validation_endpoint"]
        self.check_common(
            {"config": body.get("config"), "header_rules": body.get("header_rules")},
            aggregate=False,
        )
        for key in ("config", "header_rules"):
            if key in body:
                changes[key] = body[key]
        name = changes.get("name")
        if name and any(
            g["name"] == name and g["id"] != group_id for g in self.fake.groups.values()
        ):
            raise _Refusal(409, "DUPLICATE_RESOURCE", "Resource already exists")
        group.update(changes, updated_at=datetime.now(UTC).isoformat())
        return self.ok(self.response(group))

    def delete_group(self, id_text: str) -> tuple[int, Any]:
        group_id = self.group_id(id_text)
        self.found(group_id)
        del self.fake.groups[group_id]
        self.fake.keys.pop(group_id, None)
        self.fake.members.pop(group_id, None)
        for subs in self.fake.members.values():
            subs.pop(group_id, None)  # no refusal: the aggregate may be left empty
        return self.ok(message_id="group.deleted")

    # --- sub-groups ----------------------------------------------------------------

    def aggregate(self, id_text: str) -> dict[str, Any]:
        group_id = self.group_id(id_text)
        if group_id not in self.fake.groups:
            raise _Refusal(404, "NOT_FOUND", self.text("group.not_found"))
        group = self.fake.groups[group_id]
        if group["group_type"] != "aggregate":
            raise _Refusal(400, "BAD_REQUEST", self.text("group.not_aggregate"))
        return group

    def list_members(self, id_text: str) -> tuple[int, Any]:
        group = self.aggregate(id_text)
        subs = self.fake.members[group["id"]]
        return self.ok(
            [
                {
                    "group": _raw_group(self.fake.groups[sub]),
                    "weight": weight,
                    "total_keys": len(self.fake.keys.get(sub, [])),
                    "active_keys": len(self.fake.keys.get(sub, [])),
                    "invalid_keys": 0,
                }
                for sub, weight in sorted(subs.items())  # the DB's IN order, not insertion
            ]
        )

    def add_members(self, id_text: str) -> tuple[int, Any]:
        group_id = self.group_id(id_text)
        body = self.json_body()
        group = self.aggregate(id_text)
        entries = body.get("sub_groups") or []
        if not entries:
            raise self.invalid("validation.sub_groups_required")
        for entry in entries:
            if not entry.get("group_id"):
                raise self.invalid("validation.invalid_sub_group_id")
            if entry.get("weight", 0) < 0:
                raise self.invalid("validation.sub_group_weight_negative")
            if entry.get("weight", 0) > 1000:
                raise self.invalid("validation.sub_group_weight_max_exceeded")
        ids = [entry["group_id"] for entry in entries]
        found = {i for i in ids if i in self.fake.groups}
        if len(found) < len(ids):  # the same id twice counts once, as SQL's IN does
            raise self.invalid("validation.sub_group_not_found")
        current = self.fake.members[group_id]
        endpoints = {_endpoint(self.fake.groups[s]) for s in current}
        for sub_id in ids:
            sub = self.fake.groups[sub_id]
            if sub["group_type"] == "aggregate":
                raise self.invalid("validation.sub_group_cannot_be_aggregate")
            if sub["channel_type"] != group["channel_type"]:
                raise self.invalid("validation.sub_group_channel_mismatch")
            endpoints.add(_endpoint(sub))
            if len(endpoints) > 1:
                raise self.invalid("validation.sub_group_validation_endpoint_mismatch")
        for sub_id in ids:
            if sub_id in current:
                raise _Refusal(
                    400,
                    "BAD_REQUEST",
                    self.text("group.sub_group_already_exists", sub_group_id=sub_id),
                )
        for entry in entries:
            current[entry["group_id"]] = entry.get("weight", 0)
        return self.ok(message_id="group.sub_groups_added")

    def member(self, id_text: str, sub_text: str) -> tuple[dict[int, int], int]:
        self.group_id(id_text)
        sub_id = self.group_id(sub_text, "validation.invalid_sub_group_id")
        return self.fake.members.get(int(id_text), {}), sub_id

    def set_weight(self, id_text: str, sub_text: str) -> tuple[int, Any]:
        subs, sub_id = self.member(id_text, sub_text)
        body = self.json_body()
        self.aggregate(id_text)
        weight = body.get("weight", 0)
        if weight < 0:
            raise self.invalid("validation.sub_group_weight_negative")
        if weight > 1000:
            raise self.invalid("validation.sub_group_weight_max_exceeded")
        if sub_id not in subs:
            raise _Refusal(404, "NOT_FOUND", self.text("group.sub_group_not_found"))
        subs[sub_id] = weight
        return self.ok(message_id="group.sub_group_weight_updated")

    def remove_member(self, id_text: str, sub_text: str) -> tuple[int, Any]:
        subs, sub_id = self.member(id_text, sub_text)
        self.aggregate(id_text)
        if sub_id not in subs:
            raise _Refusal(404, "NOT_FOUND", self.text("group.sub_group_not_found"))
        del subs[sub_id]
        return self.ok(message_id="group.sub_group_deleted")

    def parents(self, id_text: str) -> tuple[int, Any]:
        group_id = self.group_id(id_text)
        return self.ok(
            [
                {
                    "group_id": aggregate_id,
                    "name": self.fake.groups[aggregate_id]["name"],
                    "display_name": self.fake.groups[aggregate_id]["display_name"],
                    "weight": subs[group_id],
                }
                for aggregate_id, subs in sorted(self.fake.members.items())
                if group_id in subs
            ]
        )

    # --- keys ----------------------------------------------------------------------

    def list_keys(self) -> tuple[int, Any]:
        text = self.call.query.get("group_id", "")
        if not text.isdigit() or text == "0":
            raise _Refusal(400, "BAD_REQUEST", "Invalid request parameters")
        group_id = int(text)
        self.found(group_id)
        keys = self.fake.keys[group_id]
        items = [
            {
                "id": n + 1,
                "key_value": key,  # plaintext, as the real server returns it
                "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                "group_id": group_id,
                "status": "active",
                "notes": "",
                "request_count": 0,
                "failure_count": 0,
                "last_used_at": None,
            }
            for n, key in enumerate(keys)
        ]
        pagination = {
            "page": 1,
            "page_size": 1000,
            "total_items": len(items),
            "total_pages": 1,
        }
        return self.ok({"items": items[:1000], "pagination": pagination})

    def add_keys(self) -> tuple[int, Any]:
        body = self.json_body()
        group_id, text = _group_id(body, "KeyTextRequest"), body.get("keys_text")
        if not text:
            raise _Refusal(
                400,
                "INVALID_JSON",
                "Key: 'KeyTextRequest.KeysText' Error:Field validation for 'KeysText' failed "
                "on the 'required' tag",
            )
        self.found(group_id)
        if not text.strip():
            raise self.invalid("validation.keys_text_empty")
        parsed = _parse_keys(text)
        if len(parsed) > KEYS_CAP:
            raise _Refusal(
                400,
                "VALIDATION_FAILED",
                f"batch size exceeds the limit of {KEYS_CAP} keys, got {len(parsed)}",
            )
        if not parsed:
            raise _Refusal(400, "VALIDATION_FAILED", "no valid keys found in the input text")
        stored = self.fake.keys[group_id]
        added = 0
        for key in parsed:
            if key not in stored:
                stored.append(key)
                added += 1
        return self.ok(
            {
                "added_count": added,
                "ignored_count": len(parsed) - added,
                "total_in_group": len(stored),
            }
        )

    def clear_keys(self) -> tuple[int, Any]:
        body = self.json_body()
        group_id = _group_id(body, "GroupIDRequest")
        self.found(group_id)
        count = len(self.fake.keys[group_id])
        self.fake.keys[group_id] = []
        return self.ok(message_id="keys.cleared", count=count)


def _group_id(body: dict[str, Any], struct: str) -> int:
    """The body's group_id as gin binds it into `struct`: a uint that is required."""
    group_id = body.get("group_id")
    if not isinstance(group_id, int) or isinstance(group_id, bool) or group_id < 0:
        raise _Refusal(
            400,
            "INVALID_JSON",
            f"json: cannot unmarshal into Go struct field {struct}.group_id of type uint",
        )
    if not group_id:
        raise _Refusal(
            400,
            "INVALID_JSON",
            f"Key: '{struct}.GroupID' Error:Field validation for 'GroupID' failed on "
            "the 'required' tag",
        )
    return group_id


ROUTES = [
    ("GET", r"/api/channel-types", "channel_types"),
    ("GET", r"/api/groups", "list_groups"),
    ("POST", r"/api/groups", "create_group"),
    ("PUT", r"/api/groups/([^/]+)", "update_group"),
    ("DELETE", r"/api/groups/([^/]+)", "delete_group"),
    ("GET", r"/api/groups/([^/]+)/sub-groups", "list_members"),
    ("POST", r"/api/groups/([^/]+)/sub-groups", "add_members"),
    ("PUT", r"/api/groups/([^/]+)/sub-groups/([^/]+)/weight", "set_weight"),
    ("DELETE", r"/api/groups/([^/]+)/sub-groups/([^/]+)", "remove_member"),
    ("GET", r"/api/groups/([^/]+)/parent-aggregate-groups", "parents"),
    ("GET", r"/api/keys", "list_keys"),
    ("POST", r"/api/keys/add-multiple", "add_keys"),
    ("POST", r"/api/keys/clear-all", "clear_keys"),
]
GROUP_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "display_name": str,
    "description": str,
    "group_type": str,
    "channel_type": str,
    "sort": int,
    "test_model": str,
    "validation_endpoint": str,
    "model_redirect_strict": bool,
    "proxy_keys": str,
}


def _types(body: Any, expected: dict[str, type | tuple[type, ...]]) -> None:
    """Go's decoder: a value of the wrong type fails the whole body as INVALID_JSON."""
    if not isinstance(body, dict):
        raise _Refusal(400, "INVALID_JSON", "json: cannot unmarshal array into Go value")
    for key, kind in expected.items():
        value = body.get(key)
        wrong = value is not None and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        )
        if wrong:
            raise _Refusal(
                400, "INVALID_JSON", f"json: cannot unmarshal into Go struct field .{key}"
            )
    rules = body.get("model_redirect_rules")
    if rules is not None and (
        not isinstance(rules, dict) or not all(isinstance(v, str) for v in rules.values())
    ):
        raise _Refusal(
            400, "INVALID_JSON", "json: cannot unmarshal into Go struct field .model_redirect_rules"
        )


def _endpoint(group: dict[str, Any]) -> str:
    return group["validation_endpoint"] or DEFAULT_ENDPOINTS[group["channel_type"]]


def _raw_group(group: dict[str, Any]) -> dict[str, Any]:
    """models.Group's JSON, as embedded in a sub-group listing (not a GroupResponse)."""
    return {**group, "endpoint": "", "api_keys": None, "effective_config": {}}


def _parse_keys(text: str) -> list[str]:
    try:
        listed = json.loads(text)
    except ValueError:
        listed = None
    if isinstance(listed, list) and listed and all(isinstance(k, str) for k in listed):
        tokens = listed
    else:
        tokens = re.split(r"[\s,;\n\r\t]+", text)
    seen: list[str] = []
    for token in (t.strip() for t in tokens):
        if token and token not in seen:
            seen.append(token)
    return seen


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeGPTLoad

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the calls are recorded instead

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request = read_request(self)
        path, query, headers, body = request.path, request.query, request.headers, request.body
        call = Call(self.command, path, query, headers, None if body is NOT_JSON else body)
        self.fake.calls.append(call)
        if path != "/" and path.endswith("/"):  # gin's RedirectTrailingSlash
            self._send(307 if self.command != "GET" else 301, b"", path.rstrip("/"))
            return
        if self.fake.version == "v2":
            self._v2(path)
            return
        if path == "/health":
            self._json(200, {"status": "healthy", "timestamp": _now(), "uptime": "1h0m0s"})
            return
        api = _Api(self.fake, Call(self.command, path, query, headers, body))
        if api.handler() is None:  # before any auth, as gin's NoRoute
            self._json(404, {"error": "Not Found"})
            return
        if not self._authorised(query, headers):
            self._json(401, {"code": "UNAUTHORIZED", "message": "Authentication failed"})
            return
        fault = self.fake.next_fault(path)
        if fault is not None and fault.hold is not None:
            fault.hold.pass_through(self.connection)
            if fault.status is None and fault.body is None:
                fault = None
        if fault is not None:
            if fault.body is not None:
                self._send(fault.status or 200, fault.body)
            else:
                self._json(fault.status or 500, {"code": fault.code, "message": fault.message})
            return
        status, payload = self.fake.answer(Call(self.command, path, query, headers, body))
        self._json(status, payload)

    def _authorised(self, query: dict[str, str], headers: dict[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        for given in (
            query.get("key"),
            authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None,
            headers.get("x-api-key"),
            headers.get("x-goog-api-key"),
        ):
            if given is not None:  # the first one present decides
                return given == self.fake.auth_key
        return False

    def _v2(self, path: str) -> None:
        if path == "/api/health":
            self._json(200, {"status": "ok"})
        elif path == "/api/groups":
            self._json(200, {"groups": []})
        else:
            self._json(404, {"error": "not found"})

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode())

    def _send(self, status: int, body: bytes, location: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def serving(fake: FakeGPTLoad, port: int = 0) -> Iterator[FakeGPTLoad]:
    """Serve `fake` on 127.0.0.1 (port 0: any free port) until the block ends."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_port}"
    with in_background(server):
        yield fake


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake GPT-Load API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--auth-key", default="gptload-auth-key-for-tests")
    args = parser.parse_args()
    with serving(FakeGPTLoad(auth_key=args.auth_key), args.port) as fake:
        print(f"Fake GPT-Load on {fake.url}")
        threading.Event().wait()


if __name__ == "__main__":
    main()
