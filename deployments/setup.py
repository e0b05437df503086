"""``sqlfleet prefect setup``: create what the fleet needs on a Prefect server, idempotently.

Global concurrency limits (strict acquisition refuses to run without them), the process work
pool of ``prefect.yaml`` with its ``fleet`` work queue (one run at a time: the nightly full load,
the hourly delta and the load-only run never overlap), and the alert automations of
``deployments/automations.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
)
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectNotFound

from sqlfleet.errors import ConfigError
from sqlfleet.limits import LimitSpec, desired_limits, limit_changes
from sqlfleet.settings import Settings

AUTOMATIONS_FILE = Path(__file__).with_name("automations.yaml")
WORK_POOL = "sqlfleet-local"
#: The work queue of the runs that write the same tables (full load, delta, load-only): one at a time.
FLEET_QUEUE = "fleet"


def existing_limits(client: SyncPrefectClient, names: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """(limit, active) of each named global concurrency limit that exists."""
    found: dict[str, tuple[int, bool]] = {}
    for name in names:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            continue
        found[name] = (limit.limit, limit.active)
    return found


def apply_limits(client: SyncPrefectClient, desired: Sequence[LimitSpec], dry_run: bool) -> list[str]:
    """Create, resize or activate limits so they match ``desired``; returns what was (or would be) done."""
    done = []
    for action, spec in limit_changes(desired, existing_limits(client, [d.name for d in desired])):
        done.append(f"{action} global concurrency limit {spec.name} = {spec.limit} ({spec.description})")
        if dry_run:
            continue
        if action == "create":
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=spec.name, limit=spec.limit, active=True)
            )
        else:
            client.update_global_concurrency_limit(
                spec.name, GlobalConcurrencyLimitUpdate(limit=spec.limit, active=True)
            )
    return done


def ensure_work_pool(client: SyncPrefectClient, dry_run: bool) -> list[str]:
    """The ``process`` work pool the deployments of ``prefect.yaml`` use, and its ``fleet`` queue
    with a concurrency limit of 1 (a second run waits in the queue until the first one ends)."""
    done = []
    try:
        client.read_work_pool(WORK_POOL)
    except ObjectNotFound:
        done.append(f"create work pool {WORK_POOL} (process)")
        if dry_run:
            return [*done, f"create work queue {FLEET_QUEUE} in {WORK_POOL} (1 run at a time)"]
        client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
    try:
        queue = client.read_work_queue_by_name(FLEET_QUEUE, work_pool_name=WORK_POOL)
    except ObjectNotFound:
        done.append(f"create work queue {FLEET_QUEUE} in {WORK_POOL} (1 run at a time)")
        if not dry_run:
            client.create_work_queue(FLEET_QUEUE, work_pool_name=WORK_POOL, concurrency_limit=1)
        return done
    if queue.concurrency_limit != 1:
        done.append(f"update work queue {FLEET_QUEUE} in {WORK_POOL}: 1 run at a time")
        if not dry_run:
            client.update_work_queue(queue.id, concurrency_limit=1)
    return done


def automation_definitions(block_document_id: str, path: Path = AUTOMATIONS_FILE) -> list[AutomationCore]:
    """The automations of ``path`` with their ``notify`` turned into a send-notification action."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    automations = []
    for item in raw["automations"]:
        definition = dict(item)
        notify = definition.pop("notify")
        definition["actions"] = [{"type": "send-notification", "block_document_id": block_document_id, **notify}]
        automations.append(AutomationCore.model_validate(definition))
    return automations


def resolve_block(client: SyncPrefectClient, reference: str) -> str:
    """The id of a notification block named ``<block-type-slug>/<name>``."""
    slug, _, name = reference.partition("/")
    if not name:
        raise ConfigError(f"alert_block {reference!r} must look like 'slack-webhook/sqlfleet-alerts'")
    try:
        return str(client.read_block_document_by_name(name=name, block_type_slug=slug).id)
    except ObjectNotFound:
        raise ConfigError(
            f"notification block {reference!r} does not exist: create it in the Prefect UI (Blocks → +) "
            f"and run `sqlfleet prefect setup` again"
        ) from None


def apply_automations(client: SyncPrefectClient, alert_block: str | None, dry_run: bool) -> list[str]:
    """Create or update the alert automations (matched by name)."""
    if alert_block is None:
        return [
            "skip alert automations: set SQLFLEET_ALERT_BLOCK to a notification block, e.g. "
            "'slack-webhook/sqlfleet-alerts' (create it in the Prefect UI under Blocks)"
        ]
    done = []
    for automation in automation_definitions(resolve_block(client, alert_block)):
        existing = client.read_automations_by_name(automation.name)
        if existing:
            current = AutomationCore.model_validate(existing[0].model_dump(include=set(AutomationCore.model_fields)))
            if _without_ids(current.model_dump(mode="json")) == _without_ids(automation.model_dump(mode="json")):
                continue
            done.append(f"update automation {automation.name}")
            if not dry_run:
                client.update_automation(existing[0].id, automation)
        else:
            done.append(f"create automation {automation.name}")
            if not dry_run:
                client.create_automation(automation)
    return done


def _without_ids(value: object) -> object:
    """A dumped automation without its generated ids (triggers get a fresh uuid each time they are built).

    Trigger fields such as ``expect`` are sets, dumped as lists in hash order, which differs between
    a set built from the file and one read back from the server: lists of strings are compared sorted.
    """
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        items = [_without_ids(v) for v in value]
        return sorted(items) if all(isinstance(i, str) for i in items) else items  # type: ignore[type-var]
    return value


def setup(settings: Settings, instances: Sequence[str], dry_run: bool = False) -> list[str]:
    """Everything ``sqlfleet prefect setup`` does, as lines of what changed (or would change)."""
    desired = desired_limits(
        instances=instances,
        tasks_per_instance=settings.engine_tasks_per_instance,
        warehouse_statements=settings.warehouse_loads,
    )
    with get_client(sync_client=True) as client:
        return [
            *apply_limits(client, desired, dry_run),
            *ensure_work_pool(client, dry_run),
            *apply_automations(client, settings.alert_block, dry_run),
        ]
