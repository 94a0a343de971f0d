"""Plan records -> Engine API specs: exact translations, and refusals that name the field."""

from __future__ import annotations

import pytest

from infra.box.object_specs import network_spec, object_name
from infra.box.records import CONFIG_TYPE, NETWORK_TYPE, SECRET_TYPE, SERVICE_TYPE, mock_id
from infra.box.service_spec import service_spec
from infra.box.spec_inputs import Created, Refs, SpecError, go_duration_ns
from infra.manifest import ResourceRecord

PARENT = "urn:pulumi:box::p::deepcube:swarm:SwarmService::svc"


def record(type_: str, name: str, inputs: dict, dependencies: list[str] | None = None) -> ResourceRecord:
    return ResourceRecord(
        urn=f"urn:pulumi:box::p::{type_}::{name}",
        type=type_,
        name=name,
        parent=PARENT,
        custom=True,
        provider=None,
        inputs=inputs,
        secret_inputs=[],
        dependencies=dependencies or [],
        property_dependencies={},
        options={},
    )


NET = record(
    NETWORK_TYPE,
    "net-data",
    {
        "name": "stack-data",
        "driver": "overlay",
        "attachable": False,
        "labels": [{"label": "deepcube.network", "value": "data"}],
    },
)
SECRET = record(SECRET_TYPE, "secret-db", {"name": "stack-db_password-abc", "data": "<secret:0123456789ab>"})
CONFIG = record(CONFIG_TYPE, "svc-config-conf", {"name": "stack-svc-conf-def", "data": "aGVsbG8K"})


def service(**changes: object) -> ResourceRecord:
    inputs: dict = {
        "name": "stack-db",
        "labels": [
            {"label": "deepcube.service", "value": "db"},
            {"label": "deepcube.mode", "value": "replicated"},
        ],
        "mode": {"replicated": {"replicas": 2}},
        "endpointSpec": {
            "mode": "dnsrr",
            "ports": [{"targetPort": 5432, "publishedPort": 15432, "protocol": "tcp", "publishMode": "host"}],
        },
        "taskSpec": {
            "containerSpec": {
                "image": "postgres:16.4-alpine",
                "args": ["postgres", "-c", "wal_level=minimal"],
                "env": {"POSTGRES_USER": "u", "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password"},
                "user": "postgres",
                "mounts": [
                    {
                        "source": "stack-db-data",
                        "target": "/var/lib/postgresql/data",
                        "type": "volume",
                        "readOnly": False,
                    },
                    {
                        "source": "/var/run/docker.sock",
                        "target": "/var/run/docker.sock",
                        "type": "bind",
                        "readOnly": True,
                    },
                ],
                "configs": [
                    {
                        "configId": mock_id(CONFIG),
                        "configName": "stack-svc-conf-def",
                        "fileName": "/etc/conf",
                        "fileMode": 0o444,
                    }
                ],
                "secrets": [
                    {
                        "secretId": mock_id(SECRET),
                        "secretName": "stack-db_password-abc",
                        "fileName": "db_password",
                        "fileMode": 0o400,
                        "fileUid": "70",
                        "fileGid": "70",
                    }
                ],
                "healthcheck": {
                    "tests": ["CMD-SHELL", "pg_isready"],
                    "interval": "30s",
                    "timeout": "5s",
                    "retries": 3,
                    "startPeriod": "1m30s",
                },
                "stopGracePeriod": "30s",
            },
            "networksAdvanceds": [{"id": mock_id(NET), "aliases": ["db"]}],
            "placement": {"constraints": ["node.labels.role==data"]},
            "resources": {
                "limits": {"nanoCpus": 2_000_000_000, "memoryBytes": 4294967296},
                "reservation": {"nanoCpus": 250_000_000, "memoryBytes": 1073741824},
            },
            "restartPolicy": {"condition": "on-failure", "delay": "10s", "maxAttempts": 5, "window": "0s"},
        },
        "updateConfig": {
            "parallelism": 1,
            "delay": "10s",
            "failureAction": "rollback",
            "monitor": "30s",
            "maxFailureRatio": "0",
            "order": "stop-first",
        },
        "rollbackConfig": {
            "parallelism": 1,
            "delay": "5s",
            "failureAction": "pause",
            "monitor": "30s",
            "maxFailureRatio": "0",
            "order": "stop-first",
        },
    }
    inputs.update(changes)
    return record(SERVICE_TYPE, "svc-service", inputs, [NET.urn, SECRET.urn, CONFIG.urn])


CREATED = {
    NET.urn: Created(NET.urn, "net123", "stack-data"),
    SECRET.urn: Created(SECRET.urn, "sec456", "stack-db_password-abc"),
    CONFIG.urn: Created(CONFIG.urn, "cfg789", "stack-svc-conf-def"),
}


def refs() -> Refs:
    return Refs([NET, SECRET, CONFIG], CREATED)


def local_image(_record: ResourceRecord, declared: str) -> str:
    return f"box/{declared.split(':')[0]}:standin"


def test_a_full_record_translates_to_the_exact_engine_spec() -> None:
    assert service_spec(service(), refs(), local_image) == {
        "Name": "stack-db",
        "Labels": {"deepcube.service": "db", "deepcube.mode": "replicated"},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": "box/postgres:standin",
                "Args": ["postgres", "-c", "wal_level=minimal"],
                "Env": ["POSTGRES_PASSWORD_FILE=/run/secrets/db_password", "POSTGRES_USER=u"],
                "User": "postgres",
                "StopGracePeriod": 30_000_000_000,
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "stack-db-data",
                        "Target": "/var/lib/postgresql/data",
                        "ReadOnly": False,
                    },
                    {
                        "Type": "bind",
                        "Source": "/var/run/docker.sock",
                        "Target": "/var/run/docker.sock",
                        "ReadOnly": True,
                    },
                ],
                "Configs": [
                    {
                        "File": {"Name": "/etc/conf", "UID": "0", "GID": "0", "Mode": 0o444},
                        "ConfigID": "cfg789",
                        "ConfigName": "stack-svc-conf-def",
                    }
                ],
                "Secrets": [
                    {
                        "File": {"Name": "db_password", "UID": "70", "GID": "70", "Mode": 0o400},
                        "SecretID": "sec456",
                        "SecretName": "stack-db_password-abc",
                    }
                ],
                "HealthCheck": {
                    "Test": ["CMD-SHELL", "pg_isready"],
                    "Interval": 30_000_000_000,
                    "Timeout": 5_000_000_000,
                    "StartPeriod": 90_000_000_000,
                    "Retries": 3,
                },
            },
            "Networks": [{"Target": "net123", "Aliases": ["db"]}],
            "Placement": {"Constraints": ["node.labels.role==data"]},
            "Resources": {
                "Limits": {"NanoCPUs": 2_000_000_000, "MemoryBytes": 4294967296},
                "Reservations": {"NanoCPUs": 250_000_000, "MemoryBytes": 1073741824},
            },
            "RestartPolicy": {
                "Condition": "on-failure",
                "Delay": 10_000_000_000,
                "Window": 0,
                "MaxAttempts": 5,
            },
        },
        "Mode": {"Replicated": {"Replicas": 2}},
        "UpdateConfig": {
            "Parallelism": 1,
            "Delay": 10_000_000_000,
            "Monitor": 30_000_000_000,
            "FailureAction": "rollback",
            "MaxFailureRatio": 0.0,
            "Order": "stop-first",
        },
        "RollbackConfig": {
            "Parallelism": 1,
            "Delay": 5_000_000_000,
            "Monitor": 30_000_000_000,
            "FailureAction": "pause",
            "MaxFailureRatio": 0.0,
            "Order": "stop-first",
        },
        "EndpointSpec": {
            "Mode": "dnsrr",
            "Ports": [{"Protocol": "tcp", "TargetPort": 5432, "PublishedPort": 15432, "PublishMode": "host"}],
        },
    }


def test_global_mode_and_an_endpoint_override() -> None:
    spec = service_spec(
        service(mode={"global": True}, endpointSpec={"mode": "vip"}), refs(), local_image, "dnsrr"
    )
    assert spec["Mode"] == {"Global": {}}
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}


def test_an_unknown_input_is_refused_not_dropped() -> None:
    rec = service()
    rec.inputs["taskSpec"]["containerSpec"]["capabilityAdd"] = ["NET_ADMIN"]
    with pytest.raises(SpecError, match=r"taskSpec.containerSpec: capabilityAdd not translated"):
        service_spec(rec, refs(), local_image)


def test_a_reference_the_service_does_not_depend_on_is_refused() -> None:
    rec = service()
    unrelated = record(SERVICE_TYPE, "svc-service", rec.inputs, [NET.urn, CONFIG.urn])
    with pytest.raises(SpecError, match="secrets\\[0\\] names secret-db without depending on it"):
        service_spec(unrelated, refs(), local_image)


def test_a_reference_to_nothing_in_the_plan_is_refused() -> None:
    rec = service()
    rec.inputs["taskSpec"]["networksAdvanceds"] = [{"id": "elsewhere-0000", "aliases": ["db"]}]
    with pytest.raises(SpecError, match="names 'elsewhere-0000', which is no docker:index/network"):
        service_spec(rec, refs(), local_image)


def test_secret_values_in_env_are_refused() -> None:
    rec = service()
    rec.inputs["taskSpec"]["containerSpec"]["env"] = {"PASSWORD": "<secret:0123456789ab>"}
    with pytest.raises(SpecError, match="env carries a secret value"):
        service_spec(rec, refs(), local_image)


def test_networks_and_objects() -> None:
    assert network_spec(NET) == {
        "name": "stack-data",
        "driver": "overlay",
        "attachable": False,
        "internal": False,
        "labels": {"deepcube.network": "data"},
        "check_duplicate": True,
    }
    assert object_name(SECRET) == "stack-db_password-abc"
    assert object_name(CONFIG) == "stack-svc-conf-def"


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0s", 0), ("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("1.5s", 1_500_000_000), ("250ms", 250_000_000)],
)
def test_go_durations(text: str, ns: int) -> None:
    assert go_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["30", "s", "1x", "30s "])
def test_bad_durations(text: str) -> None:
    with pytest.raises(SpecError, match="is not a duration"):
        go_duration_ns(text)
