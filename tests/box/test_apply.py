"""Creation order, API keywords and published ports: the pure parts of applying a plan."""

from __future__ import annotations

from infra.box.apply import create_kwargs, service_order
from infra.box.nodes import published_ports
from infra.box.records import SERVICE_TYPE, short_name
from infra.manifest import Manifest
from tests.box.test_spec import record


def test_services_come_after_those_they_depend_on() -> None:
    db = record(SERVICE_TYPE, "db", {})
    job = record(SERVICE_TYPE, "job", {}, [db.urn])
    web = record(SERVICE_TYPE, "web", {}, [job.urn, "urn:pulumi:box::p::docker:index/network:Network::n"])
    assert [r.name for r in service_order([web, job, db])] == ["db", "job", "web"]


def test_the_ovh_order_respects_every_dependency(ovh_manifest: Manifest) -> None:
    ordered = service_order(ovh_manifest.of_type(SERVICE_TYPE))
    position = {r.urn: i for i, r in enumerate(ordered)}
    for r in ordered:
        for dep in r.dependencies:
            if dep in position:
                assert position[dep] < position[r.urn], f"{short_name(r)} before its dependency"


def test_create_kwargs_maps_the_spec_to_the_sdk() -> None:
    spec = {
        "Name": "s",
        "Labels": {"a": "b"},
        "TaskTemplate": {"ContainerSpec": {"Image": "i"}},
        "Mode": {"Global": {}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    assert create_kwargs(spec) == {
        "name": "s",
        "labels": {"a": "b"},
        "task_template": {"ContainerSpec": {"Image": "i"}},
        "mode": {"Global": {}},
        "update_config": None,
        "rollback_config": None,
        "endpoint_spec": {"Mode": "dnsrr"},
    }


def test_only_host_mode_ports_are_published_on_the_node() -> None:
    ports = [
        {"PublishedPort": 443, "Protocol": "udp", "PublishMode": "host"},
        {"PublishedPort": 80, "Protocol": "tcp", "PublishMode": "host"},
        {"PublishedPort": 8080, "Protocol": "tcp", "PublishMode": "ingress"},
        {"TargetPort": 9000, "PublishMode": "host"},
    ]
    assert published_ports(ports) == [(80, "tcp"), (443, "udp")]
