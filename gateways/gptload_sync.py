"""Make GPT-Load hold the split plan (gateways.plan): create, update and delete exactly
the groups Switchboard made, in the order GPT-Load's rules need.

Steps: read GPT-Load (version, groups) → standard groups → their keys → aggregates →
aggregates' members → clean up (aggregates, then standard groups, no longer planned).

- Only tracked groups (TrackedGroup) are updated or deleted. A planned name held by a
  group Switchboard did not make is a conflict, reported and left alone, and so is a
  group no longer planned that an aggregate Switchboard did not make still uses.
- Every group made carries MARK in its description: a group made by a sync that died
  before it could track it is taken over by the next one (Retry) instead of colliding.
- A group is updated only where GPT-Load's copy differs from the plan (its own fields)
  or what was last sent differs (keyed fingerprints: the proxy key, the provider's key,
  never kept themselves): a sync of an unchanged catalogue writes nothing.
- GPT-Load's traps (the team's reference, §8.2): an aggregate's channel cannot change,
  so it is made again; a member's channel or key-check path cannot change while it is a
  member, so it leaves its aggregates first (and rejoins at the members step); members
  are reconciled by a diff of GET …/sub-groups; a rotated key replaces the group's keys
  (clear-all, then add), as the old one is not known to delete.
- A dry run reads GPT-Load and reports every change it would make, writing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.utils.crypto import salted_hmac

from gateways import plan
from gateways.gptload import GPTLoad, RemoteGroup
from gateways.models import GPTLoadInstance, GroupKind, TrackedGroup

MARK = "Managed by Switchboard: its sync overwrites changes made here."
# GPT-Load proxies only through a group's active keys; a provider that needs none
# (Ollama) gets this one, which it ignores.
KEYLESS = "no-key-needed"
STEPS = (
    "Read GPT-Load",
    "Standard groups",
    "Keys",
    "Aggregates",
    "Members",
    "Clean up",
)

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """One thing a sync did, or would do; never a key."""

    action: str  # create, update, recreate, keys, add members, set weight, remove member,
    # delete, conflict, kept
    kind: str  # standard | aggregate (GPT-Load); api.yaml (uni-api)
    name: str
    detail: str = ""
    gateway: str = "gptload"  # or "uniapi"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Wanted:
    """A planned group with what is sent to make it, and its provider's key."""

    group: plan.Group
    key: str = ""  # standard groups: the provider's key, KEYLESS for none

    def fields(self, proxy_key: str) -> dict[str, Any]:
        group = self.group
        fields: dict[str, Any] = {
            "name": group.name,
            "group_type": group.kind,
            "channel_type": group.channel_type,
            "description": MARK,
            "proxy_keys": proxy_key,
        }
        if group.kind == GroupKind.STANDARD:
            fields |= {
                "upstreams": [{"url": group.upstream, "weight": 1}],
                "test_model": group.test_model,
                "validation_endpoint": group.validation_endpoint,
                "model_redirect_rules": dict(group.redirects),
                "model_redirect_strict": True,
            }
        return fields


def fingerprint(value: Any) -> str:
    """A keyed hash (SECRET_KEY): equal values match; the value cannot be read back."""
    text = json.dumps(value, sort_keys=True)
    return salted_hmac("gateways.gptload", text, algorithm="sha256").hexdigest()


Progress = Callable[[str, int], Awaitable[None]]


class Sync:
    def __init__(
        self,
        client: GPTLoad,
        instance: GPTLoadInstance,
        wanted: list[Wanted],
        *,
        proxy_key: str,
        dry_run: bool,
        progress: Progress,
        into: list[Change] | None = None,
    ) -> None:
        self.client = client
        self.instance = instance
        self.wanted = wanted
        self.proxy_key = proxy_key
        self.dry_run = dry_run
        self.progress = progress
        self.changes: list[Change] = [] if into is None else into
        self.tracked: dict[str, TrackedGroup] = {}  # by the name Switchboard gave it
        self.remote: dict[int, RemoteGroup] = {}
        self.skipped: set[str] = set()  # planned names a conflict keeps out
        self._current = STEPS[0]

    async def run(self) -> list[Change]:
        self.client.hide(self.proxy_key, *(wanted.key for wanted in self.wanted))
        await self._step(0)
        await self.client.check_version()
        await self._read()
        await self._step(1)
        for wanted in self._of(GroupKind.STANDARD):
            await self._ensure(wanted)
        await self._step(2)
        for wanted in self._of(GroupKind.STANDARD):
            await self._ensure_key(wanted)
        await self._step(3)
        for wanted in self._of(GroupKind.AGGREGATE):
            await self._ensure(wanted)
        await self._step(4)
        for wanted in self._of(GroupKind.AGGREGATE):
            await self._ensure_members(wanted)
        await self._step(5)
        await self._clean_up()
        return self.changes

    # --- reading ---------------------------------------------------------------------

    async def _read(self) -> None:
        self.remote = {group.id: group for group in await self.client.groups()}
        rows = await sync_to_async(list)(self.instance.groups.all())
        for row in rows:
            if row.remote_id in self.remote:
                self.tracked[row.name] = row
            else:  # deleted in GPT-Load by hand: forgotten, and made again if planned
                await self._forget(row)

    def _of(self, kind: str) -> list[Wanted]:
        return [w for w in self.wanted if w.group.kind == kind and w.group.name not in self.skipped]

    def _remote_named(self, name: str) -> RemoteGroup | None:
        return next((g for g in self.remote.values() if g.name == name), None)

    # --- groups ----------------------------------------------------------------------

    async def _ensure(self, wanted: Wanted) -> None:
        group = wanted.group
        fields = wanted.fields(self.proxy_key)
        sent = fingerprint(fields)
        row = self.tracked.get(group.name)
        if row is None:
            found = self._remote_named(group.name)
            if found is not None and MARK not in found.description:
                self.skipped.add(group.name)
                self._note(
                    Change(
                        "conflict",
                        group.kind,
                        group.name,
                        f"GPT-Load already has a group {group.name} (id {found.id}) that "
                        "Switchboard did not make: left alone; rename or delete it there.",
                    )
                )
                return
            if found is None:
                await self._create(wanted, fields, sent)
                return
            row = await self._track(found, wanted, fields_fingerprint="")  # an earlier run's
        current = self.remote[row.remote_id]
        drift = _drift(fields, current)
        if group.kind == GroupKind.AGGREGATE and "channel_type" in drift:
            # GPT-Load ignores an aggregate's new channel type: made again.
            await self._delete(row, "its channel type changed: made again")
            await self._create(wanted, fields, sent, action="recreate")
            return
        if not drift and row.fields_fingerprint == sent:
            return
        changes = drift | {"proxy_keys": self.proxy_key}
        if {"channel_type", "validation_endpoint"} & drift.keys():
            await self._leave_aggregates(row)
        named = sorted(k for k in drift if k != "proxy_keys") or ["proxy key"]
        updated = await self._write(
            Change("update", group.kind, group.name, ", ".join(named)),
            lambda: self.client.update_group(row.remote_id, changes),
        )
        if updated is not None:
            self.remote[updated.id] = updated
            row.fields_fingerprint = sent
            await sync_to_async(row.save)()

    async def _create(
        self, wanted: Wanted, fields: dict[str, Any], sent: str, *, action: str = "create"
    ) -> None:
        group = wanted.group
        detail = _describe(group)
        made = await self._write(
            Change(action, group.kind, group.name, detail),
            lambda: self.client.create_group(fields),
        )
        if made is None:  # a dry run: what follows treats it as new
            self.tracked[group.name] = TrackedGroup(
                instance=self.instance, remote_id=0, name=group.name, kind=group.kind
            )
            return
        self.remote[made.id] = made
        await self._track(made, wanted, fields_fingerprint=sent)

    async def _track(
        self, made: RemoteGroup, wanted: Wanted, *, fields_fingerprint: str
    ) -> TrackedGroup:
        group = wanted.group
        row = TrackedGroup(
            instance=self.instance,
            remote_id=made.id,
            name=group.name,
            kind=group.kind,
            provider_name=group.provider,
            serves=group.serves,
            fields_fingerprint=fields_fingerprint,
        )
        await sync_to_async(row.save)()
        self.tracked[group.name] = row
        return row

    async def _ensure_key(self, wanted: Wanted) -> None:
        row = self.tracked.get(wanted.group.name)
        if row is None:
            return
        key = fingerprint({"key": wanted.key})
        if row.key_fingerprint == key:
            return
        replaced = bool(row.key_fingerprint)

        async def add() -> int:
            if replaced:
                await self.client.clear_keys(row.remote_id)
            return await self.client.add_keys(row.remote_id, [wanted.key])

        detail = "the provider's key replaced" if replaced else "the provider's key added"
        added = await self._write(Change("keys", GroupKind.STANDARD, row.name, detail), add)
        if added is not None:
            row.key_fingerprint = key
            await sync_to_async(row.save)()

    # --- aggregates' members -----------------------------------------------------------

    async def _ensure_members(self, wanted: Wanted) -> None:
        row = self.tracked.get(wanted.group.name)
        if row is None:
            return
        members = [self.tracked[name] for name in wanted.group.members if name in self.tracked]
        have = await self.client.members(row.remote_id) if row.remote_id else {}
        missing = [m for m in members if not m.remote_id or m.remote_id not in have]
        if missing:
            weights = {m.remote_id: plan.MEMBER_WEIGHT for m in missing}
            await self._write(
                Change("add members", row.kind, row.name, ", ".join(m.name for m in missing)),
                lambda: self.client.add_members(row.remote_id, weights),
            )
        wanted_ids = {m.remote_id for m in members}
        names = {group.id: group.name for group in self.remote.values()}
        for member, weight in sorted(have.items()):
            name = names.get(member, f"id {member}")
            if member not in wanted_ids:
                await self._write(
                    Change("remove member", row.kind, row.name, name),
                    lambda member=member: self.client.remove_member(row.remote_id, member),
                )
            elif weight != plan.MEMBER_WEIGHT:
                await self._write(
                    Change("set weight", row.kind, row.name, f"{name}: {plan.MEMBER_WEIGHT}"),
                    lambda member=member: self.client.set_weight(
                        row.remote_id, member, plan.MEMBER_WEIGHT
                    ),
                )

    async def _leave_aggregates(self, row: TrackedGroup) -> None:
        """Out of every aggregate Switchboard made, before its channel changes."""
        for aggregate in self.tracked.values():
            if aggregate.kind != GroupKind.AGGREGATE or not aggregate.remote_id:
                continue
            if row.remote_id in await self.client.members(aggregate.remote_id):
                await self._write(
                    Change("remove member", GroupKind.AGGREGATE, aggregate.name, row.name),
                    lambda a=aggregate: self.client.remove_member(a.remote_id, row.remote_id),
                )

    # --- cleaning up -------------------------------------------------------------------

    async def _clean_up(self) -> None:
        planned = {w.group.name for w in self.wanted}
        stale = [row for name, row in self.tracked.items() if name not in planned]
        # Aggregates first: then no aggregate of ours holds a standard group deleted next.
        for row in sorted(stale, key=lambda r: (r.kind != GroupKind.AGGREGATE, r.name)):
            if row.kind == GroupKind.STANDARD:
                ours = {r.name for r in self.tracked.values()}
                foreign = [p for p in await self.client.parents(row.remote_id) if p not in ours]
                if foreign:
                    self._note(
                        Change(
                            "kept",
                            row.kind,
                            row.name,
                            f"no longer planned, but {', '.join(sorted(foreign))}, which "
                            "Switchboard did not make, still uses it",
                        )
                    )
                    continue
            await self._delete(row, "no longer in the catalogue's plan")

    async def _delete(self, row: TrackedGroup, why: str) -> None:
        done = await self._write(
            Change("delete", row.kind, row.name, why),
            lambda: self._deleted(row.remote_id),
        )
        if done is not None:
            await self._forget(row)
            self.remote.pop(row.remote_id, None)

    async def _deleted(self, remote_id: int) -> bool:
        await self.client.delete_group(remote_id)
        return True

    async def _forget(self, row: TrackedGroup) -> None:
        self.tracked.pop(row.name, None)
        if row.pk and not self.dry_run:
            await sync_to_async(row.delete)()

    # --- the record ----------------------------------------------------------------------

    async def _write(self, change: Change, call: Callable[[], Awaitable[T]]) -> T | None:
        """`call` made (None in a dry run), and noted as done or to do."""
        self._note(change)
        if self.dry_run:
            return None
        result = await call()
        await self.progress(self._current, len(self.changes))
        return result

    def _note(self, change: Change) -> None:
        self.changes.append(change)

    async def _step(self, index: int) -> None:
        self._current = STEPS[index]
        await self.progress(self._current, len(self.changes))


def _drift(fields: dict[str, Any], remote: RemoteGroup) -> dict[str, Any]:
    """The fields GPT-Load holds otherwise than `fields` would make them."""
    have: dict[str, Any] = {
        "name": remote.name,
        "description": remote.description,
        "channel_type": remote.channel_type,
    }
    if remote.group_type == GroupKind.STANDARD:
        have |= {
            "upstreams": [{"url": url, "weight": weight} for url, weight in remote.upstreams],
            "test_model": remote.test_model,
            "validation_endpoint": remote.validation_endpoint,
            "model_redirect_rules": remote.redirects,
            "model_redirect_strict": remote.strict,
        }
    return {k: v for k, v in fields.items() if k in have and have[k] != v}


def _describe(group: plan.Group) -> str:
    if group.kind == GroupKind.AGGREGATE:
        return f"{group.serves} from {', '.join(group.members)}"
    names = [name for name, _ in group.redirects]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{group.provider}: {shown}"
