"""A client for GPT-Load's v1.4.x management API, on the guarded outbound transport.

What it gets right (the team's GPT-Load reference, §8.2): responses are read by HTTP
status first, then the envelope (success `code` is the int 0, an error's a string); a
message is never matched on (it is localized, Chinese by default, and one is a raw i18n
id), only shown, with every secret the call carried masked; no raw body is ever logged or
kept (GET /api/keys answers plaintext keys); there is no get-by-id, so one group is read
from the list; URLs have no trailing slash (gin redirects them); keys go in batches under
the 5,000 cap; a v2 server (GET /api/health, no /health) is refused by name.

    async with GPTLoad(url, auth_key, allow_private_network=True) as gptload:
        await gptload.check_version()
        groups = await gptload.groups()
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx2

from providers.errors import UserFacingError
from providers.keys.redaction import redact
from providers.upstream import transport

KEYS_PER_CALL = 1000  # well under the 5,000 cap, so one call stays small
TIMEOUT = httpx2.Timeout(30.0, connect=5.0)


class GPTLoadError(UserFacingError):
    """GPT-Load refused a call or could not be reached; the message says which and why."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class NotGPTLoadV1Error(GPTLoadError):
    """The server is not GPT-Load v1 (v2 is a rewrite with another API)."""


@dataclass(frozen=True)
class RemoteGroup:
    """A group as GPT-Load lists it: the fields a sync compares."""

    id: int
    name: str
    group_type: str
    channel_type: str
    upstreams: tuple[tuple[str, int], ...]
    test_model: str
    validation_endpoint: str
    redirects: dict[str, str]
    strict: bool
    description: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> RemoteGroup:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            group_type=str(data.get("group_type") or "standard"),
            channel_type=str(data.get("channel_type", "")),
            upstreams=tuple(
                (u["url"], int(u.get("weight", 0))) for u in data.get("upstreams") or []
            ),
            test_model=str(data.get("test_model", "")),
            validation_endpoint=str(data.get("validation_endpoint", "")),
            redirects=dict(data.get("model_redirect_rules") or {}),  # null on some reads
            strict=bool(data.get("model_redirect_strict")),
            description=str(data.get("description", "")),
        )


class GPTLoad:
    def __init__(self, url: str, auth_key: str, *, allow_private_network: bool) -> None:
        self.url = url.rstrip("/")
        self._auth_key = auth_key
        self._secrets: set[str] = {auth_key}  # masked in every message this client makes
        self._client = transport.build_client(
            allow_private_network=allow_private_network, timeout=TIMEOUT
        )

    def hide(self, *secrets: str) -> None:
        """Mask these too in every message: what a call may send (a provider's key, a
        proxy key) or GPT-Load may echo from an earlier one."""
        self._secrets.update(s for s in secrets if s)

    async def __aenter__(self) -> GPTLoad:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    # --- health and version --------------------------------------------------------

    async def check_version(self) -> None:
        """Pass for a GPT-Load v1 server the key opens; else the reason, by name."""
        health = await self._get_raw("/health")
        if health.status_code == 404 and (await self._get_raw("/api/health")).status_code == 200:
            raise NotGPTLoadV1Error(
                f"{self.url} answers as GPT-Load v2 (it has /api/health, not /health). v2 is "
                "a rewrite with another API; Switchboard speaks GPT-Load v1.4.x."
            )
        body = _json(health)
        if health.status_code != 200 or not isinstance(body, dict) or "status" not in body:
            raise NotGPTLoadV1Error(
                f"{self.url} does not answer as GPT-Load v1: GET /health gave HTTP "
                f"{health.status_code}. Check the URL (the server's root, e.g. "
                "http://gpt-load:3001)."
            )
        await self.channel_types()  # the cheapest call that needs the key

    async def channel_types(self) -> list[str]:
        return list(await self._call("GET", "/api/channel-types", what="list channel types"))

    # --- groups --------------------------------------------------------------------

    async def groups(self) -> list[RemoteGroup]:
        data = await self._call("GET", "/api/groups", what="list groups")
        return [RemoteGroup.of(item) for item in data or []]

    async def create_group(self, fields: dict[str, Any]) -> RemoteGroup:
        data = await self._call(
            "POST", "/api/groups", payload=fields, what=f"create group {fields.get('name')}"
        )
        return RemoteGroup.of(data)

    async def update_group(self, group_id: int, changes: dict[str, Any]) -> RemoteGroup:
        data = await self._call(
            "PUT", f"/api/groups/{group_id}", payload=changes, what=f"update group {group_id}"
        )
        return RemoteGroup.of(data)

    async def delete_group(self, group_id: int) -> None:
        await self._call("DELETE", f"/api/groups/{group_id}", what=f"delete group {group_id}")

    # --- aggregates ----------------------------------------------------------------

    async def members(self, aggregate_id: int) -> dict[int, int]:
        """The aggregate's members: group id → weight."""
        data = await self._call(
            "GET",
            f"/api/groups/{aggregate_id}/sub-groups",
            what=f"list the members of group {aggregate_id}",
        )
        return {int(item["group"]["id"]): int(item["weight"]) for item in data or []}

    async def add_members(self, aggregate_id: int, weights: dict[int, int]) -> None:
        entries = [{"group_id": g, "weight": w} for g, w in sorted(weights.items())]
        await self._call(
            "POST",
            f"/api/groups/{aggregate_id}/sub-groups",
            payload={"sub_groups": entries},
            what=f"add members to group {aggregate_id}",
        )

    async def set_weight(self, aggregate_id: int, member_id: int, weight: int) -> None:
        await self._call(
            "PUT",
            f"/api/groups/{aggregate_id}/sub-groups/{member_id}/weight",
            payload={"weight": weight},
            what=f"set the weight of group {member_id} in group {aggregate_id}",
        )

    async def remove_member(self, aggregate_id: int, member_id: int) -> None:
        await self._call(
            "DELETE",
            f"/api/groups/{aggregate_id}/sub-groups/{member_id}",
            what=f"remove group {member_id} from group {aggregate_id}",
        )

    # --- keys ----------------------------------------------------------------------

    async def add_keys(self, group_id: int, keys: Iterable[str]) -> int:
        """Add `keys` to the group (GPT-Load ignores those it has); how many were new."""
        keys = [k for k in keys if k]
        self.hide(*keys)
        added = 0
        for start in range(0, len(keys), KEYS_PER_CALL):
            batch = keys[start : start + KEYS_PER_CALL]
            data = await self._call(
                "POST",
                "/api/keys/add-multiple",
                # A JSON array: a key with a comma or space inside stays one key.
                payload={"group_id": group_id, "keys_text": json.dumps(batch)},
                what=f"add keys to group {group_id}",
            )
            added += int(data["added_count"])
        return added

    async def keys(self, group_id: int) -> list[str]:
        """The group's active keys, in plain (GPT-Load lists them so): masked in every
        message from now on, never logged."""
        data = await self._call(
            "GET",
            f"/api/keys?group_id={group_id}&status=active&page_size={KEYS_PER_CALL}",
            what=f"list the keys of group {group_id}",
        )
        found = [str(item["key_value"]) for item in (data or {}).get("items") or []]
        self.hide(*found)
        return found

    async def clear_keys(self, group_id: int) -> None:
        """Remove every key of the group (a rotated key's old value is not known here)."""
        await self._call(
            "POST",
            "/api/keys/clear-all",
            payload={"group_id": group_id},
            what=f"clear the keys of group {group_id}",
        )

    async def parents(self, group_id: int) -> list[str]:
        """The names of the aggregates the group is a member of."""
        data = await self._call(
            "GET",
            f"/api/groups/{group_id}/parent-aggregate-groups",
            what=f"list the aggregates of group {group_id}",
        )
        return [str(item["name"]) for item in data or []]

    # --- the wire ------------------------------------------------------------------

    async def _get_raw(self, path: str) -> httpx2.Response:
        try:
            return await self._client.get(self.url + path)
        except (httpx2.HTTPError, transport.RefusedAddressError) as error:
            raise self._unreachable(error) from None

    async def _call(self, method: str, path: str, *, what: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self._auth_key}", "Accept-Language": "en-US"}
        try:
            response = await self._client.request(
                method, self.url + path, json=payload, headers=headers
            )
        except (httpx2.HTTPError, transport.RefusedAddressError) as error:
            raise self._unreachable(error) from None
        body = _json(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("code") == 0:
            return body.get("data")
        raise self._refusal(what, method, path, response.status_code, body)

    def _refusal(self, what: str, method: str, path: str, status: int, body: Any) -> GPTLoadError:
        if status == 401:
            return GPTLoadError(
                f"GPT-Load at {self.url} refused the auth key (HTTP 401): enter its AUTH_KEY.",
                status=status,
                code="UNAUTHORIZED",
            )
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            message = self._masked(str(body.get("message", "")))
            return GPTLoadError(
                f"GPT-Load could not {what}: {message} ({body['code']}, HTTP {status}).",
                status=status,
                code=body["code"],
            )
        if status == 404:
            return NotGPTLoadV1Error(
                f"GPT-Load at {self.url} has no {method} {path} (HTTP 404): is it GPT-Load "
                "v1.4 or later?",
                status=status,
            )
        return GPTLoadError(
            f"GPT-Load could not {what}: HTTP {status} with an answer that is not its API's.",
            status=status,
        )

    def _unreachable(self, error: Exception) -> GPTLoadError:
        reason = getattr(error, "user_message", "") or type(error).__name__
        return GPTLoadError(f"GPT-Load at {self.url} cannot be reached: {self._masked(reason)}.")

    def _masked(self, text: str) -> str:
        for secret in self._secrets:
            text = redact(text, secret)
        return text


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
