"""One sync: the catalogue's plan pushed to the configured gateways, recorded as a run.

    run = runs.begin(target="all", dry_run=False, user=request.user)  # the lock
    perform(run)                                                    # to its end

Targets: "gptload" (its groups, gateways.gptload_sync), "uniapi" (its api.yaml,
gateways.uniapi), "all" (GPT-Load first when configured, then api.yaml, which then
points at GPT-Load's groups). `perform` is what a command and a task worker call; it
never raises for a gateway's refusal, an unreachable one or a file that cannot be
written: the run ends failed with the reason and what was done.
"""

from __future__ import annotations

import logging

import httpx2
from asgiref.sync import async_to_sync, sync_to_async

from gateways import gptload_sync, offers, plan, runs, uniapi
from gateways.gptload_sync import Change, Sync, Wanted
from gateways.models import GPTLoadInstance, GroupKind, SyncRun, TierKey, UniApiTarget
from providers import access
from providers.errors import UserFacingError
from providers.models import GATEWAY_NAME, Provider, Tier
from providers.upstream import transport

logger = logging.getLogger(__name__)

TARGETS = ("all", "gptload", "uniapi")
NO_GPTLOAD = (
    "No GPT-Load is configured: add its URL and auth key in the admin (Gateways, GPT-Load "
    "instance)."
)
NO_UNIAPI = "No uni-api target is configured: add its api.yaml path in the admin (Gateways)."
NOTHING = "No gateway is configured: add GPT-Load or a uni-api target in the admin (Gateways)."
UNIAPI_STEPS = ("Write api.yaml", "Check uni-api")


def perform(run: SyncRun) -> SyncRun:
    """Run `run` (begun with runs.begin) to its end, and keep its result."""
    changes: list[Change] = []
    try:
        async_to_sync(_push)(run, changes)
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


async def _push(run: SyncRun, changes: list[Change]) -> None:
    # async_to_sync, not asyncio.run: the database calls below come back to the caller's
    # thread and its connection (a test's transaction included).
    gptload = await sync_to_async(GPTLoadInstance.objects.first)()
    target = await sync_to_async(UniApiTarget.objects.first)()
    to_gptload = run.target in ("all", "gptload") and (gptload or run.target == "gptload")
    to_uniapi = run.target in ("all", "uniapi") and (target or run.target == "uniapi")
    if not (to_gptload or to_uniapi):
        raise UserFacingError(NOTHING)
    steps = (gptload_sync.STEPS if to_gptload else ()) + (UNIAPI_STEPS if to_uniapi else ())

    async def progress(step: str, _count: int = 0) -> None:
        await sync_to_async(runs.beat)(
            run,
            step=step,
            steps_done=steps.index(step),
            steps_total=len(steps),
            changes=_recorded(changes),
        )

    if to_gptload:
        if gptload is None:
            raise UserFacingError(NO_GPTLOAD)
        await _to_gptload(gptload, run, changes, progress)
    if to_uniapi:
        if target is None:
            raise UserFacingError(NO_UNIAPI)
        await _to_uniapi(target, gptload, run, changes, progress)


async def _to_gptload(
    instance: GPTLoadInstance, run: SyncRun, changes: list[Change], progress: gptload_sync.Progress
) -> None:
    wanted = await sync_to_async(wanted_groups)()
    async with instance.client() as client:
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


# --- uni-api --------------------------------------------------------------------------


async def _to_uniapi(
    target: UniApiTarget,
    gptload: GPTLoadInstance | None,
    run: SyncRun,
    changes: list[Change],
    progress: gptload_sync.Progress,
) -> None:
    await progress(UNIAPI_STEPS[0])
    config, clients = await sync_to_async(api_yaml)(target, gptload)
    text = uniapi.render(config)
    detail = f"{len(config['providers'])} provider(s), {len(clients)} tier key(s) and the admin key"
    if run.dry_run:
        changes.append(Change("write", "api.yaml", target.path, detail, gateway="uniapi"))
        return
    if uniapi.write(target.path, text):
        changes.append(Change("write", "api.yaml", target.path, detail, gateway="uniapi"))
    await progress(UNIAPI_STEPS[1])
    if target.url:
        await check_served(target, clients)


def api_yaml(
    target: UniApiTarget, gptload: GPTLoadInstance | None
) -> tuple[dict, list[uniapi.ClientKey]]:
    """The file's content (keys in plain: it is the deployable file) and its tier keys."""
    planned = offers.current_plan()
    offered = offers.offers()
    providers = Provider.objects.filter(name__in={o.provider for o in offered})
    upstreams = {
        p.name: uniapi.Upstream(p.name, p.protocol, p.base_url, p.api_key.reveal())
        for p in providers
    }
    through = uniapi.ThroughGPTLoad(gptload.url, gptload.proxy_key.reveal()) if gptload else None
    served = {o.gateway_name for o in offered}
    clients = [
        uniapi.ClientKey("admin", target.admin_key.reveal(), ("all",)),
        *tier_keys(served),
    ]
    config = uniapi.build(
        planned,
        offered,
        upstreams=upstreams,
        gptload=through,
        clients=clients,
        preferences=target.preferences,
    )
    return config, clients[1:]


def tier_keys(served: set[str]) -> list[uniapi.ClientKey]:
    """A key per tier that may use any served name, listing exactly those (keys made on
    first use)."""
    found = []
    for tier in Tier.objects.order_by("name"):
        names = access.available_to([tier]).values_list(GATEWAY_NAME, flat=True)
        allowed = tuple(sorted(set(names) & served))
        if not allowed:
            continue
        key, _ = TierKey.objects.get_or_create(tier=tier)
        role = f"tier-{plan.group_name(tier.name)}"
        found.append(uniapi.ClientKey(role, key.api_key.reveal(), allowed))
    return found


async def check_served(target: UniApiTarget, clients: list[uniapi.ClientKey]) -> None:
    """uni-api's /v1/models with each tier key lists exactly that tier's names."""
    url = target.url.rstrip("/") + "/v1/models"
    async with transport.build_client(allow_private_network=target.allow_private_network) as http:
        for client in clients:
            try:
                response = await http.get(url, headers={"Authorization": f"Bearer {client.key}"})
            except (httpx2.HTTPError, transport.RefusedAddressError) as error:
                reason = getattr(error, "user_message", "") or type(error).__name__
                raise UserFacingError(
                    f"api.yaml was written, but uni-api at {target.url} cannot be reached: "
                    f"{reason}."
                ) from None
            listed = _model_ids(response)
            if listed != set(client.models):
                missing = sorted(set(client.models) - (listed or set()))
                extra = sorted((listed or set()) - set(client.models))
                raise UserFacingError(
                    f"api.yaml was written, but uni-api does not list {client.role}'s models "
                    f"as written (HTTP {response.status_code}; missing: "
                    f"{', '.join(missing) or 'none'}; not expected: {', '.join(extra) or 'none'}"
                    "). It reloads the file every few seconds: run the sync again shortly."
                )


def _model_ids(response: httpx2.Response) -> set[str] | None:
    try:
        return {str(item["id"]) for item in response.json()["data"]}
    except (ValueError, KeyError, TypeError):
        return None


def _recorded(changes: list[Change]) -> list[dict[str, str]]:
    return [change.as_dict() for change in changes]
