"""One sync: the catalogue's plan pushed to the configured gateways, recorded as a run.

    run = runs.begin(target="gptload", dry_run=False, user=request.user)  # the lock
    perform(run)                                                        # to its end

`perform` is what a command, and a task worker, call; it never raises for a gateway's
refusal or an unreachable one: the run ends failed with the reason and what was done.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync, sync_to_async

from gateways import gptload_sync, offers, runs
from gateways.gptload import GPTLoad
from gateways.gptload_sync import Change, Sync, Wanted
from gateways.models import GPTLoadInstance, GroupKind, SyncRun
from providers.errors import UserFacingError
from providers.models import Provider

logger = logging.getLogger(__name__)

NO_GPTLOAD = (
    "No GPT-Load is configured: add its URL and auth key in the admin (Gateways, GPT-Load "
    "instance)."
)


def perform(run: SyncRun) -> SyncRun:
    """Run `run` (begun with runs.begin) to its end, and keep its result."""
    changes: list[Change] = []
    try:
        instance = GPTLoadInstance.objects.first()
        if instance is None:
            raise UserFacingError(NO_GPTLOAD)
        # async_to_sync, not asyncio.run: the sync's database calls come back to this
        # thread, and its connection (a test's transaction included).
        async_to_sync(_push)(instance, wanted_groups(), run, changes)
    except UserFacingError as error:
        return runs.end(run, changes=_recorded(changes), error=error.user_message)
    except Exception as error:  # a bug: the run must still end, its lock released
        logger.exception("Sync %s failed", run.pk)
        return runs.end(
            run,
            changes=_recorded(changes),
            error=f"The sync stopped on an unexpected error ({type(error).__name__}); "
            "the server log has the details.",
        )
    return runs.end(run, changes=_recorded(changes))


def wanted_groups() -> list[Wanted]:
    """The plan's groups, each standard one with its provider's key (KEYLESS for none)."""
    planned = offers.current_plan()
    names = {g.provider for g in planned.groups if g.kind == GroupKind.STANDARD}
    keys = {p.name: p.api_key for p in Provider.objects.filter(name__in=names)}
    return [
        Wanted(group, (keys[group.provider].reveal() or gptload_sync.KEYLESS))
        if group.kind == GroupKind.STANDARD
        else Wanted(group)
        for group in planned.groups
    ]


async def _push(
    instance: GPTLoadInstance, wanted: list[Wanted], run: SyncRun, changes: list[Change]
) -> None:
    async def progress(step: str, _count: int) -> None:
        await sync_to_async(runs.beat)(
            run,
            step=step,
            steps_done=gptload_sync.STEPS.index(step),
            steps_total=len(gptload_sync.STEPS),
            changes=_recorded(changes),
        )

    async with GPTLoad(
        instance.url,
        instance.auth_key.reveal(),
        allow_private_network=instance.allow_private_network,
    ) as client:
        sync = Sync(
            client,
            instance,
            wanted,
            proxy_key=instance.proxy_key.reveal(),
            dry_run=run.dry_run,
            progress=progress,
            into=changes,  # the caller's list: what was done survives a failure
        )
        await sync.run()


def _recorded(changes: list[Change]) -> list[dict[str, str]]:
    return [change.as_dict() for change in changes]
