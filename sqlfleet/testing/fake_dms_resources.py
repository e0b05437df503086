"""Instances, endpoints, connections, quotas and tags of the fake DMS (a test double; see ``fake_dms``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlfleet.testing.fake_dms_state import (
    ArnMaker,
    Clock,
    Connection,
    Endpoint,
    FakeDmsError,
    Instance,
    apply_filters,
    check_identifier,
    epoch,
    paginate,
    require,
)

#: What DMS echoes back for S3 settings left unset (botocore model / UG defaults); a caller that
#: compares its settings with a describe must allow for these.
S3_DEFAULTS: dict[str, Any] = {
    "CsvRowDelimiter": "\\n",
    "CsvDelimiter": ",",
    "DataFormat": "csv",
    "ParquetVersion": "parquet-1-0",
    "EncodingType": "rle-dictionary",
    "RowGroupLength": 10_000,
    "DataPageSize": 1_048_576,
    "DictPageSizeLimit": 1_048_576,
    "EnableStatistics": True,
    "CompressionType": "NONE",
    "MaxFileSize": 1_048_576,
}
_ENDPOINT_KEYS_NOT_SETTINGS = frozenset(
    {"EndpointArn", "EndpointIdentifier", "EndpointType", "EngineName", "Tags", "ResourceIdentifier", "ExactSettings"}
)
_BUSY = frozenset({"starting", "running", "stopping", "modifying"})


class ResourceOperations:
    """Mixin of ``FakeDms``: everything but replication tasks."""

    config: Any
    arns: ArnMaker
    clock: Clock
    tasks: dict[str, Any]
    connection_result: Callable[[Endpoint], tuple[str, str | None]]

    def init_resources(self) -> None:
        """Empty resource tables."""
        self.instances: dict[str, Instance] = {}
        self.subnet_groups: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.connections: list[Connection] = []
        self.tags: dict[str, list[dict[str, str]]] = {}

    def instance(self, arn: object) -> Instance:
        """The instance with this ARN, or ``ResourceNotFoundFault``."""
        found = self.instances.get(str(arn))
        if found is None:
            raise FakeDmsError("ResourceNotFoundFault", f"Replication instance {arn} not found")
        return found

    def endpoint(self, arn: object) -> Endpoint:
        """The endpoint with this ARN, or ``ResourceNotFoundFault``."""
        found = self.endpoints.get(str(arn))
        if found is None:
            raise FakeDmsError("ResourceNotFoundFault", f"Endpoint {arn} not found")
        return found

    def testing(self, instance: Instance, endpoints: list[Endpoint]) -> bool:
        """Whether a connection test of one of ``endpoints`` from ``instance`` is running."""
        return any(
            c.instance is instance and c.endpoint in endpoints and c.status == "testing" for c in self.connections
        )

    def _quota(self, name: str, used: int) -> None:
        if used >= self.config.quotas[name]:
            raise FakeDmsError("ResourceQuotaExceededFault", f"{name} quota of {self.config.quotas[name]} reached")

    # -- subnet groups and instances --------------------------------------------------------

    def op_create_replication_subnet_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``CreateReplicationSubnetGroup`` operation."""
        require(p, "ReplicationSubnetGroupIdentifier", "ReplicationSubnetGroupDescription", "SubnetIds")
        ident = str(p["ReplicationSubnetGroupIdentifier"])
        if ident in self.subnet_groups:
            raise FakeDmsError("ResourceAlreadyExistsFault", f"Replication subnet group {ident} already exists")
        group = {
            "ReplicationSubnetGroupIdentifier": ident,
            "ReplicationSubnetGroupDescription": p["ReplicationSubnetGroupDescription"],
            "VpcId": "vpc-fake",
            "SubnetGroupStatus": "Complete",
            "Subnets": [
                {"SubnetIdentifier": s, "SubnetAvailabilityZone": {"Name": "zone"}, "SubnetStatus": "Active"}
                for s in p["SubnetIds"]
            ],
        }
        self.subnet_groups[ident] = group
        return {"ReplicationSubnetGroup": group}

    def op_describe_replication_subnet_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeReplicationSubnetGroups`` operation."""
        getters = {"replication-subnet-group-id": lambda g: g["ReplicationSubnetGroupIdentifier"]}
        groups = apply_filters(list(self.subnet_groups.values()), p, getters, "replication subnet groups")
        return paginate(groups, p, "ReplicationSubnetGroups")

    def op_create_replication_instance(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``CreateReplicationInstance`` operation."""
        require(p, "ReplicationInstanceIdentifier", "ReplicationInstanceClass")
        ident = check_identifier(p["ReplicationInstanceIdentifier"], "ReplicationInstanceIdentifier")
        if any(i.identifier == ident for i in self.instances.values()):
            raise FakeDmsError("ResourceAlreadyExistsFault", f"Replication instance {ident} already exists")
        self._quota("ReplicationInstances", len(self.instances))
        group = p.get("ReplicationSubnetGroupIdentifier")
        if group is not None and group not in self.subnet_groups:
            raise FakeDmsError("ResourceNotFoundFault", f"Replication subnet group {group} not found")
        instance = Instance(
            arn=self.arns.make("rep"),
            identifier=ident,
            instance_class=str(p["ReplicationInstanceClass"]),
            allocated_storage=int(p.get("AllocatedStorage") or 50),
            subnet_group=group,
            created=self.clock(),
            extra={k: p[k] for k in ("MultiAZ", "EngineVersion", "PubliclyAccessible") if k in p},
        )
        self.instances[instance.arn] = instance
        self.tags[instance.arn] = list(p.get("Tags") or [])
        return {"ReplicationInstance": instance.to_api()}

    def op_describe_replication_instances(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeReplicationInstances`` operation."""
        getters = {
            "replication-instance-arn": lambda i: i.arn,
            "replication-instance-id": lambda i: i.identifier,
            "replication-instance-class": lambda i: i.instance_class,
        }
        chosen = apply_filters(list(self.instances.values()), p, getters, "replication instances")
        shown = [i.to_api() for i in chosen]
        for i in chosen:  # like DMS after provisioning: available from the next look on
            i.status = "available"
        return paginate(shown, p, "ReplicationInstances")

    def op_delete_replication_instance(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DeleteReplicationInstance`` operation."""
        instance = self.instance(p.get("ReplicationInstanceArn"))
        if any(t.instance is instance for t in self.tasks.values()):
            raise FakeDmsError(
                "InvalidResourceStateFault", f"Replication instance {instance.identifier} still has tasks"
            )
        del self.instances[instance.arn]
        instance.status = "deleting"
        return {"ReplicationInstance": instance.to_api()}

    # -- endpoints ----------------------------------------------------------------------------

    def op_create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``CreateEndpoint`` operation."""
        require(p, "EndpointIdentifier", "EndpointType", "EngineName")
        ident = check_identifier(p["EndpointIdentifier"], "EndpointIdentifier")
        if str(p["EndpointType"]).lower() not in {"source", "target"}:
            raise FakeDmsError("InvalidParameterValueException", f"Invalid EndpointType {p['EndpointType']!r}")
        if any(e.identifier == ident for e in self.endpoints.values()):
            raise FakeDmsError("ResourceAlreadyExistsFault", f"Endpoint {ident} already exists")
        self._quota("Endpoints", len(self.endpoints))
        settings = {k: v for k, v in p.items() if k not in _ENDPOINT_KEYS_NOT_SETTINGS}
        if p["EngineName"] == "s3":
            s3 = settings.get("S3Settings") or {}
            require(s3, "BucketName", "ServiceAccessRoleArn")
            settings["S3Settings"] = {**S3_DEFAULTS, **s3}
        endpoint = Endpoint(
            self.arns.make("endpoint"), ident, str(p["EndpointType"]).lower(), p["EngineName"], settings
        )
        self.endpoints[endpoint.arn] = endpoint
        self.tags[endpoint.arn] = list(p.get("Tags") or [])
        return {"Endpoint": endpoint.to_api()}

    def op_describe_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeEndpoints`` operation."""
        getters = {
            "endpoint-arn": lambda e: e.arn,
            "endpoint-type": lambda e: e.endpoint_type,
            "endpoint-id": lambda e: e.identifier,
            "engine-name": lambda e: e.engine,
        }
        chosen = apply_filters(list(self.endpoints.values()), p, getters, "endpoints")
        return paginate([e.to_api() for e in chosen], p, "Endpoints")

    def op_modify_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``ModifyEndpoint`` operation."""
        endpoint = self.endpoint(p.get("EndpointArn"))
        busy = sorted(
            t.identifier
            for t in self.tasks.values()
            if (t.source is endpoint or t.target is endpoint) and t.status in _BUSY
        )
        if busy:
            raise FakeDmsError(
                "InvalidResourceStateFault",
                f"Endpoint {endpoint.identifier} is used by task(s) {', '.join(busy)} that are not stopped",
            )
        new_id = p.get("EndpointIdentifier")
        if new_id and new_id != endpoint.identifier:
            check_identifier(new_id, "EndpointIdentifier")
            if any(e.identifier == new_id for e in self.endpoints.values()):
                raise FakeDmsError("ResourceAlreadyExistsFault", f"Endpoint {new_id} already exists")
            endpoint.identifier = str(new_id)
        exact = bool(p.get("ExactSettings"))
        for key, given in p.items():
            if key in _ENDPOINT_KEYS_NOT_SETTINGS:
                continue
            old = endpoint.settings.get(key)
            value = given
            if isinstance(given, dict) and isinstance(old, dict) and not exact:
                value = {**old, **given}  # ExactSettings false: same-named keys overwrite, new ones add
            if key == "S3Settings":
                value = {**S3_DEFAULTS, **value}
            endpoint.settings[key] = value
        # ModifyEndpoint starts an implicit connection test from every instance that tested it.
        for connection in self.connections:
            if connection.endpoint is endpoint:
                connection.status = "testing"
                connection.polls_left = self.config.connection_test_polls
                connection.result, connection.failure = self.connection_result(endpoint)
        return {"Endpoint": endpoint.to_api()}

    def op_delete_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DeleteEndpoint`` operation."""
        endpoint = self.endpoint(p.get("EndpointArn"))
        if any(t.source is endpoint or t.target is endpoint for t in self.tasks.values()):
            raise FakeDmsError("InvalidResourceStateFault", f"Endpoint {endpoint.identifier} is used by a task")
        del self.endpoints[endpoint.arn]
        self.connections = [c for c in self.connections if c.endpoint is not endpoint]
        endpoint.status = "deleting"
        return {"Endpoint": endpoint.to_api()}

    # -- connections ----------------------------------------------------------------------------

    def op_test_connection(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``TestConnection`` operation."""
        require(p, "ReplicationInstanceArn", "EndpointArn")
        instance, endpoint = self.instance(p["ReplicationInstanceArn"]), self.endpoint(p["EndpointArn"])
        if instance.status != "available":
            raise FakeDmsError(
                "InvalidResourceStateFault", f"Replication instance {instance.identifier} is not available"
            )
        existing = next((c for c in self.connections if c.instance is instance and c.endpoint is endpoint), None)
        if existing is not None and existing.status == "testing":
            raise FakeDmsError("InvalidResourceStateFault", "Connection is already being tested")
        result, failure = self.connection_result(endpoint)
        connection = Connection(instance, endpoint, "testing", result, failure, self.config.connection_test_polls)
        self.connections = [c for c in self.connections if c is not existing] + [connection]
        return {"Connection": connection.to_api()}

    def op_describe_connections(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeConnections`` operation."""
        getters = {"endpoint-arn": lambda c: c.endpoint.arn, "replication-instance-arn": lambda c: c.instance.arn}
        chosen = apply_filters(self.connections, p, getters, "connections")
        for c in chosen:
            if c.status == "testing":
                if c.polls_left > 0:
                    c.polls_left -= 1
                else:
                    c.status = c.result
        return paginate([c.to_api() for c in chosen], p, "Connections")

    # -- account and tags ----------------------------------------------------------------------

    def op_describe_account_attributes(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``DescribeAccountAttributes`` operation."""
        per_instance = [
            len({e.arn for t in self.tasks.values() if t.instance is i for e in (t.source, t.target)})
            for i in self.instances.values()
        ]
        used = {
            "ReplicationInstances": len(self.instances),
            "AllocatedStorage": sum(i.allocated_storage for i in self.instances.values()),
            "Endpoints": len(self.endpoints),
            "ReplicationTasks": len(self.tasks),
            "EndpointsPerInstance": max(per_instance, default=0),
        }
        quotas = [
            {"AccountQuotaName": name, "Used": count, "Max": self.config.quotas[name]} for name, count in used.items()
        ]
        return {"AccountQuotas": quotas, "UniqueAccountIdentifier": f"fake-{self.config.account_id}"}

    def op_list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``ListTagsForResource`` operation."""
        arns = p.get("ResourceArnList") or [p.get("ResourceArn")]
        return {"TagList": [{**t, "ResourceArn": a} for a in arns for t in self.tags.get(str(a), [])]}

    def op_add_tags_to_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        """The DMS ``AddTagsToResource`` operation."""
        arn = str(p.get("ResourceArn"))
        if arn not in self.tags:
            raise FakeDmsError("ResourceNotFoundFault", f"Resource {arn} not found")
        keys = {t["Key"] for t in p.get("Tags") or []}
        self.tags[arn] = [t for t in self.tags[arn] if t["Key"] not in keys] + list(p.get("Tags") or [])
        return {}


__all__ = ["S3_DEFAULTS", "ResourceOperations", "epoch"]
