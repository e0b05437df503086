"""The difference between the resources a fleet needs and what AWS has (pure).

``CurrentState`` is what the ``describe_*``/``get_*`` calls returned, normalised; ``diff_fleet``
turns desired + current into ``Change`` items that ``sqlfleet aws plan`` prints and
``sqlfleet aws apply`` carries out. Nothing is ever deleted; ``blocked`` items stop an apply
before it changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet.aws.desired import DesiredFleet, EndpointSpec, InstanceSpec, RoleSpec

Action = Literal["create", "update", "keep", "drift", "blocked"]
ResourceKind = Literal["bucket", "role", "subnet-group", "instance", "endpoint", "catalog"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_SYMBOL: dict[Action, str] = {"create": "+", "update": "~", "keep": "=", "drift": "!", "blocked": "x"}


class BucketState(BaseModel):
    """The lake bucket as found."""

    model_config = _FROZEN

    accessible: bool = True
    region: str | None = None
    versioning: str | None = None  # None (never enabled), "Enabled" or "Suspended"


class RoleState(BaseModel):
    """An IAM role as found."""

    model_config = _FROZEN

    trusted_services: tuple[str, ...] = ()
    inline_policies: dict[str, dict[str, object]] = {}
    managed_policy_arns: tuple[str, ...] = ()


class InstanceState(BaseModel):
    """A replication instance as found."""

    model_config = _FROZEN

    instance_class: str
    allocated_storage_gb: int
    status: str
    arn: str


class EndpointState(BaseModel):
    """A DMS endpoint as found."""

    model_config = _FROZEN

    endpoint_type: str
    engine_name: str
    settings: dict[str, object]
    arn: str


class CurrentState(BaseModel):
    """Everything the plan compares against; ``None``/missing keys mean "does not exist"."""

    model_config = _FROZEN

    bucket: BucketState | None = None
    roles: dict[str, RoleState] = {}
    subnet_group_subnets: tuple[str, ...] | None = None
    instances: dict[str, InstanceState] = {}
    endpoints: dict[str, EndpointState] = {}


class Change(BaseModel):
    """One line of the plan."""

    model_config = _FROZEN

    action: Action
    kind: ResourceKind
    identifier: str
    detail: str = ""

    def render(self) -> str:
        """``+ create   endpoint      sales-eu-source  (detail)``."""
        detail = f"  {self.detail}" if self.detail else ""
        return f"{_SYMBOL[self.action]} {self.action:<8} {self.kind:<13} {self.identifier}{detail}"


def diff_fleet(desired: DesiredFleet, current: CurrentState, *, suspend_versioning: bool = False) -> list[Change]:
    """The changes that bring ``current`` to ``desired``, in the order apply carries them out."""
    changes = [Change(action="blocked", kind="catalog", identifier="catalog", detail=p) for p in desired.problems]
    changes.append(_bucket_change(desired, current.bucket, suspend_versioning))
    for role in (desired.service_role, *desired.account_roles):
        changes.append(_role_change(role, current.roles.get(role.name)))
    changes.append(_subnet_group_change(desired, current.subnet_group_subnets))
    changes.extend(_instance_change(spec, current.instances.get(spec.identifier)) for spec in desired.instances)
    changes.extend(_endpoint_change(spec, current.endpoints.get(spec.identifier)) for spec in desired.endpoints)
    return changes


def render_plan(changes: Sequence[Change], *, verbose: bool = False) -> str:
    """The plan as text: every change that does something (and, if ``verbose``, what is kept),
    then a count per action."""
    lines = [c.render() for c in changes if verbose or c.action != "keep"]
    counts = {a: sum(1 for c in changes if c.action == a) for a in _SYMBOL}
    summary = ", ".join(f"{n} to {a}" if a in ("create", "update") else f"{n} {a}" for a, n in counts.items() if n)
    return "\n".join([*lines, f"Plan: {summary or 'nothing to do'}."])


def _bucket_change(desired: DesiredFleet, bucket: BucketState | None, suspend: bool) -> Change:
    name = desired.bucket
    if bucket is None:
        return Change(action="create", kind="bucket", identifier=name, detail=f"in {desired.region}, versioning off")
    if not bucket.accessible:
        return Change(action="blocked", kind="bucket", identifier=name, detail="exists but is not accessible here")
    if bucket.region != desired.region:
        return Change(
            action="blocked",
            kind="bucket",
            identifier=name,
            detail=f"is in {bucket.region}; DMS needs the bucket in the instances' region {desired.region}",
        )
    if bucket.versioning == "Enabled":
        if suspend:
            return Change(
                action="update", kind="bucket", identifier=name, detail="suspend versioning (DMS needs it off)"
            )
        return Change(
            action="blocked",
            kind="bucket",
            identifier=name,
            detail="has versioning enabled; DMS needs it off (its connection test can time out): "
            "rerun with --suspend-versioning, or use another bucket",
        )
    return Change(action="keep", kind="bucket", identifier=name)


def _role_change(role: RoleSpec, state: RoleState | None) -> Change:
    if state is None:
        return Change(action="create", kind="role", identifier=role.name, detail=_role_summary(role))
    missing: list[str] = []
    if not set(role.trusted_services) <= set(state.trusted_services):
        missing.append("trust for " + ", ".join(sorted(set(role.trusted_services) - set(state.trusted_services))))
    if role.inline_policy_name and state.inline_policies.get(role.inline_policy_name) != role.inline_policy:
        missing.append(f"inline policy {role.inline_policy_name}")
    absent = sorted(set(role.managed_policy_arns) - set(state.managed_policy_arns))
    if absent:
        missing.append("attach " + ", ".join(a.rpartition("/")[2] for a in absent))
    if missing:
        return Change(action="update", kind="role", identifier=role.name, detail="; ".join(missing))
    return Change(action="keep", kind="role", identifier=role.name)


def _role_summary(role: RoleSpec) -> str:
    parts = [f"trusted by {', '.join(role.trusted_services)}"]
    if role.inline_policy_name:
        parts.append(f"policy {role.inline_policy_name}")
    parts += [a.rpartition("/")[2] for a in role.managed_policy_arns]
    return "; ".join(parts)


def _subnet_group_change(desired: DesiredFleet, subnets: tuple[str, ...] | None) -> Change:
    name = desired.subnet_group
    if subnets is None:
        return Change(
            action="create", kind="subnet-group", identifier=name, detail=f"subnets {', '.join(desired.subnet_ids)}"
        )
    if desired.subnet_ids and set(subnets) != set(desired.subnet_ids):
        # instances already use it; changing subnets under them is a network change to do by hand
        return Change(
            action="drift",
            kind="subnet-group",
            identifier=name,
            detail=f"has subnets {', '.join(sorted(subnets))}, settings say {', '.join(sorted(desired.subnet_ids))}; "
            "left unchanged",
        )
    return Change(action="keep", kind="subnet-group", identifier=name)


def _instance_change(spec: InstanceSpec, state: InstanceState | None) -> Change:
    placed = f"{spec.databases} database(s)"
    if state is None:
        return Change(
            action="create",
            kind="instance",
            identifier=spec.identifier,
            detail=f"{spec.instance_class}, {spec.allocated_storage_gb} GB; {placed}",
        )
    if state.instance_class != spec.instance_class or state.allocated_storage_gb < spec.allocated_storage_gb:
        return Change(
            action="update",
            kind="instance",
            identifier=spec.identifier,
            detail=f"{state.instance_class}/{state.allocated_storage_gb} GB -> {spec.instance_class}/"
            f"{spec.allocated_storage_gb} GB (applied immediately: the instance restarts); {placed}",
        )
    return Change(action="keep", kind="instance", identifier=spec.identifier, detail=f"{state.status}; {placed}")


def _endpoint_change(spec: EndpointSpec, state: EndpointState | None) -> Change:
    what = f"{spec.engine_name} {spec.endpoint_type}" + (f" of {spec.database}" if spec.database else " (shared)")
    if state is None:
        return Change(action="create", kind="endpoint", identifier=spec.identifier, detail=what)
    if (state.endpoint_type.lower(), state.engine_name) != (spec.endpoint_type, spec.engine_name):
        return Change(
            action="blocked",
            kind="endpoint",
            identifier=spec.identifier,
            detail=f"exists as {state.engine_name} {state.endpoint_type.lower()}, needed as {what}",
        )
    drifted = sorted(settings_drift(spec.settings, state.settings))
    if drifted:
        return Change(
            action="update",
            kind="endpoint",
            identifier=spec.identifier,
            detail=f"{what}: {', '.join(drifted)} differ (tasks using it must be stopped)",
        )
    return Change(action="keep", kind="endpoint", identifier=spec.identifier, detail=what)


def settings_drift(desired: Mapping[str, object], current: Mapping[str, object]) -> set[str]:
    """Keys of ``desired`` whose value ``current`` lacks or holds differently (DMS returns more
    keys than were set, with defaults filled in, and never returns a password)."""
    return {k for k, v in desired.items() if k != "Password" and current.get(k) != v}
