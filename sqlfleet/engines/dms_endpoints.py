"""DMS endpoints of a fleet: created or reused by identifier, modified when drifted, connection-tested.

``ModifyEndpoint`` starts an implicit connection test, and ``StartReplicationTask`` right after it
fails with ``InvalidResourceStateFault`` (reference/dms.md §1.2); so every change is followed by
``await_connections``, which waits (with a deadline) until ``DescribeConnections`` says
``successful`` for the task's instance and endpoints, testing the ones never tested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sqlfleet.catalog import DatabaseEntry
from sqlfleet.dms.endpoints import s3_target_settings, sqlserver_source_settings
from sqlfleet.dms.names import endpoint_identifier
from sqlfleet.dms.output_prefix import OutputLocation
from sqlfleet.engines.base import TaskSpec
from sqlfleet.engines.dms_api import DmsAlreadyExistsError, DmsApi, DmsInvalidStateError
from sqlfleet.errors import DeadlineExceededError, ReplicationError

#: Fields DMS never returns, so they cannot be compared (a changed password is not detected;
#: Secrets Manager references are, which is one reason to prefer them).
_WRITE_ONLY = frozenset({"Password"})


def contains(actual: object, desired: object) -> bool:
    """Whether ``actual`` holds everything ``desired`` sets (DMS echoes settings with its defaults added)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(
            key in _WRITE_ONLY or (key in actual and contains(actual[key], value)) for key, value in desired.items()
        )
    return actual == desired


class EndpointSpec(BaseModel):
    """What one endpoint must be: ``CreateEndpoint`` arguments, one ``*Settings`` struct included."""

    model_config = ConfigDict(frozen=True)

    identifier: str
    endpoint_type: str
    engine: str
    settings_key: str
    #: Kept out of ``repr``: a source's settings may hold a password.
    settings: dict[str, Any] = Field(repr=False)

    def create_params(self) -> dict[str, Any]:
        """Keyword arguments of ``CreateEndpoint``."""
        return {
            "EndpointIdentifier": self.identifier,
            "EndpointType": self.endpoint_type,
            "EngineName": self.engine,
            self.settings_key: dict(self.settings),
        }


#: DMS's default ``MaxFileSize`` (KB): left unset so endpoints made by ``sqlfleet aws apply`` match.
_DMS_DEFAULT_MAX_FILE_KB = 1_048_576


def source_endpoint_spec(entry: DatabaseEntry, *, secrets_role_arn: str, password: SecretStr | None) -> EndpointSpec:
    """The SQL Server source endpoint of ``entry`` (Secrets Manager reference, or a resolved password)."""
    settings = sqlserver_source_settings(entry, secrets_manager_access_role_arn=secrets_role_arn, password=password)
    return EndpointSpec(
        identifier=endpoint_identifier(entry.name, "source"),
        endpoint_type="source",
        engine="sqlserver",
        settings_key="MicrosoftSQLServerSettings",
        settings=dict(settings),
    )


def target_endpoint_spec(
    spec: TaskSpec, planned: OutputLocation, *, identifier: str, service_role_arn: str
) -> EndpointSpec:
    """The S3 target endpoint writing ``planned``'s bucket and folder."""
    settings = s3_target_settings(
        bucket=planned.bucket,
        bucket_folder=planned.folder,
        service_access_role_arn=service_role_arn,
        timestamp_column=spec.timestamp_column,
        max_file_size_kb=None if spec.max_file_size_kb == _DMS_DEFAULT_MAX_FILE_KB else spec.max_file_size_kb,
    )
    return EndpointSpec(
        identifier=identifier, endpoint_type="target", engine="s3", settings_key="S3Settings", settings=settings
    )


class DmsEndpoints:
    """Ensures endpoints and waits for their connection tests."""

    def __init__(
        self,
        api: DmsApi,
        *,
        poll_interval_seconds: float,
        deadline_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.poll = poll_interval_seconds
        self.deadline = deadline_seconds
        self.sleep = sleep

    def find(self, identifier: str) -> dict[str, Any] | None:
        """The endpoint called ``identifier``, or ``None``."""
        found = list(
            self.api.pages("describe_endpoints", "Endpoints", Filters=[{"Name": "endpoint-id", "Values": [identifier]}])
        )
        return found[0] if found else None

    def describe(self, arn: str) -> dict[str, Any]:
        """The endpoint with ``arn``; ``ReplicationError`` when it is gone."""
        found = list(
            self.api.pages("describe_endpoints", "Endpoints", Filters=[{"Name": "endpoint-arn", "Values": [arn]}])
        )
        if not found:
            raise ReplicationError(f"endpoint {arn} no longer exists")
        return found[0]

    def ensure(self, spec: EndpointSpec) -> tuple[str, bool]:
        """The ARN of the endpoint ``spec`` describes, and whether it was created or modified now."""
        current = self.find(spec.identifier)
        if current is None:
            try:
                created = self.api.call("create_endpoint", **spec.create_params())
                return str(created["Endpoint"]["EndpointArn"]), True
            except DmsAlreadyExistsError:  # created concurrently by another run: use it
                current = self.find(spec.identifier)
                if current is None:
                    raise
        if (
            str(current.get("EngineName")) != spec.engine
            or str(current.get("EndpointType")).lower() != spec.endpoint_type
        ):
            raise ReplicationError(
                f"endpoint {spec.identifier} is a {current.get('EngineName')} {current.get('EndpointType')} endpoint, "
                f"not {spec.engine} {spec.endpoint_type}: rename or delete it"
            )
        arn = str(current["EndpointArn"])
        if contains(current.get(spec.settings_key) or {}, spec.settings):
            return arn, False
        # ExactSettings: the struct becomes exactly what the plan says, dropping keys it no
        # longer sets (the default merges, reference/dms.md §1.2). Needs its tasks stopped.
        self.api.call(
            "modify_endpoint", EndpointArn=arn, ExactSettings=True, **{spec.settings_key: dict(spec.settings)}
        )
        return arn, True

    def await_connections(self, instance_arn: str, endpoint_arns: Sequence[str]) -> None:
        """Block until every endpoint's connection from the instance tested ``successful``.

        Untested pairs are tested; a test already running (the one ``ModifyEndpoint`` starts) is
        waited for; ``failed`` raises ``ReplicationError`` with DMS's message;
        ``DeadlineExceededError`` past the deadline.
        """
        deadline = time.monotonic() + self.deadline
        tested: set[str] = set()
        while True:
            found = {
                str(c["EndpointArn"]): c
                for c in self.api.pages(
                    "describe_connections",
                    "Connections",
                    Filters=[
                        {"Name": "endpoint-arn", "Values": list(endpoint_arns)},
                        {"Name": "replication-instance-arn", "Values": [instance_arn]},
                    ],
                )
            }
            waiting = []
            for arn in endpoint_arns:
                connection = found.get(arn)
                status = None if connection is None else str(connection.get("Status"))
                if status == "successful":
                    continue
                if status == "failed" and arn in tested:
                    assert connection is not None
                    raise ReplicationError(
                        f"connection test of endpoint {connection.get('EndpointIdentifier', arn)} from instance "
                        f"{connection.get('ReplicationInstanceIdentifier', instance_arn)} failed: "
                        f"{connection.get('LastFailureMessage') or 'no message'}"
                    )
                if status in {None, "failed"}:
                    # Never tested, or a failure from an earlier test (the cause may be fixed
                    # since): test now, and believe the result of this test.
                    self._test(instance_arn, arn)
                    tested.add(arn)
                waiting.append(arn)
            if not waiting:
                return
            if time.monotonic() >= deadline:
                raise DeadlineExceededError(
                    f"connection tests of {', '.join(waiting)} from {instance_arn} did not succeed within "
                    f"{self.deadline:.0f} s"
                )
            self.sleep(self.poll)

    def _test(self, instance_arn: str, endpoint_arn: str) -> None:
        try:
            self.api.call("test_connection", ReplicationInstanceArn=instance_arn, EndpointArn=endpoint_arn)
        except DmsInvalidStateError as exc:
            if "already being tested" not in str(exc):
                raise
