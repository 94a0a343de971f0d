"""Data services reach data: S3 credentials file and endpoint, cube locations, EODATA, the invariant.

The real plans of both stacks are read as deployed: which secret and variables Jupyter, Dask and
the loader get, which buckets their URIs name, which host paths they bind. Then each wiring fault
is put back into a real plan (or the code) and `storage-wiring` must name it in one line.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.data_access import S3_CREDENTIALS_FILE, shared_credentials_file
from infra import storage_wiring
from infra.config import PlatformConfig, from_mapping, sections_of
from infra.config_errors import ConfigError
from infra.invariants.storage import absolute_paths, s3_uris
from infra.invariants.topology import read_topology
from infra.manifest import Manifest, ResourceRecord, secret_marker
from infra.mock_outputs import _ec2_credential
from infra.offline import evaluate
from infra.policies import check_manifest, short_config
from infra.stack_files import apply_override, parse_override, read_stack
from tests.infra.projects import check_with_a_fault
from tests.infra.test_platform_plan import STACKS, manifest, stack_config
from tests.infra.test_wiring_invariants import changed, check, lines, service

POLICY = "storage-wiring"
DOCKER_SECRET = "docker:index/secret:Secret"
CONTAINER = "openstack:objectstorage/container:Container"
EC2 = "openstack:identity/ec2CredentialV3:Ec2CredentialV3"
S3_SERVICES = ("jupyter", "dask-scheduler", "dask-worker", "semantic-loader")
EODATA_SERVICES = ("jupyter", "dask-worker", "semantic-loader")


def mine(m: Manifest) -> list[str]:
    return [line for line in lines(check(m)) if line.startswith(f"{POLICY}: ")]


def record(m: Manifest, name: str) -> ResourceRecord:
    (found,) = [r for r in m.resources if service(name)(r)]
    return found


def container_spec(m: Manifest, name: str) -> dict[str, Any]:
    return record(m, name).inputs["taskSpec"]["containerSpec"]


def binds(m: Manifest, name: str) -> list[dict[str, Any]]:
    return [mount for mount in container_spec(m, name).get("mounts") or [] if mount["type"] == "bind"]


def credential_secret(m: Manifest) -> ResourceRecord:
    (found,) = [r for r in m.of_type(DOCKER_SECRET) if r.name.endswith("-secret-s3-credentials")]
    return found


def config_with(stack: str, *overrides: tuple[str, Any]) -> PlatformConfig:
    project, config = read_stack(stack)
    for key, value in overrides:
        apply_override(config, project.name, key, value)
    return from_mapping(project.name, stack, sections_of(project.name, config.values))


def cubes_env(m: Manifest) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container_spec(m, "semantic-loader")["env"]["CUBES"].split())


# -- what the data services get ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_stacks_reach_their_data(stack):
    assert mine(manifest(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_credentials_file_is_the_ec2_pair_as_one_secret(stack):
    m = manifest(stack)
    secret = credential_secret(m)
    (ec2,) = m.of_type(EC2)
    pair = _ec2_credential(ec2.name, {})  # what the cloud answers, as the offline plan stands it in
    ini = shared_credentials_file(pair["access"], pair["secret"])
    assert ini.splitlines() == [
        "[default]",
        f"aws_access_key_id = {pair['access']}",
        f"aws_secret_access_key = {pair['secret']}",
    ]
    # The redacted marker is the fingerprint of exactly that file, and it travels as a secret.
    assert secret.inputs["data"] == secret_marker(base64.b64encode(ini.encode()).decode())
    assert "data" in secret.secret_inputs
    text = m.to_json()
    assert pair["access"] not in text and pair["secret"] not in text


@pytest.mark.parametrize("stack", STACKS)
def test_jupyter_dask_and_the_loader_get_the_file_and_the_endpoint_never_the_keys(stack):
    m, cfg = manifest(stack), stack_config(stack)
    secret = credential_secret(m)
    for name in S3_SERVICES:
        spec = container_spec(m, name)
        env = spec["env"]
        assert env["AWS_SHARED_CREDENTIALS_FILE"] == S3_CREDENTIALS_FILE == "/run/secrets/s3_credentials"
        assert env["AWS_ENDPOINT_URL"] == cfg.cloud.object_storage.endpoint
        assert env["AWS_DEFAULT_REGION"] == cfg.cloud.object_storage.signing_region
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env), name
        mounted = [s["fileName"] for s in spec["secrets"] if s["secretName"] == secret.inputs["name"]]
        assert mounted == ["s3_credentials"], name


@pytest.mark.parametrize(
    ("stack", "compute", "store", "endpoint", "signing"),
    [
        ("ovh", "GRA9", "GRA", "https://s3.gra.cloud.ovh.net", "gra"),
        ("creodias", "WAW3-1", "WAW3-1", "https://s3.waw3-1.cloudferro.com", "waw3-1"),
    ],
)
def test_containers_live_in_the_object_stores_region_behind_swifts_s3_api(
    stack, compute, store, endpoint, signing
):
    m, cfg = manifest(stack), stack_config(stack)
    storage = cfg.cloud.object_storage
    assert (cfg.cloud.region, storage.api, storage.region) == (compute, "swift-s3api", store)
    assert (storage.endpoint, storage.signing_region) == (endpoint, signing)
    assert {c.inputs["region"] for c in m.of_type(CONTAINER)} == {store}
    (ec2,) = m.of_type(EC2)
    assert ec2.inputs["region"] == compute  # the identity API of the project's region issues the pair
    assert (m.outputs["s3_endpoint"], m.outputs["s3_signing_region"]) == (endpoint, signing)


def test_the_native_s3_products_endpoint_is_refused():
    expected = r"not the S3 API of the stack's Swift containers.*for cloud.object_storage.endpoint"
    with pytest.raises(ConfigError, match=expected):
        config_with("ovh", ("cloud.object_storage.endpoint", "https://s3.gra.io.cloud.ovh.net"))


def test_the_boxs_stand_in_endpoint_keeps_the_stacks_regions_and_the_wiring_holds():
    from infra.box.cli import BOX_OVERRIDES, S3_HOST

    m = manifest("ovh", *BOX_OVERRIDES)
    assert container_spec(m, "jupyter")["env"]["AWS_ENDPOINT_URL"] == f"https://{S3_HOST}"
    assert container_spec(m, "jupyter")["env"]["AWS_DEFAULT_REGION"] == "gra"
    project, config = read_stack("ovh")
    for text in BOX_OVERRIDES:
        apply_override(config, project.name, *parse_override(text))
    found = check_manifest(m, short_config(config.values, project.name))
    assert [v.line() for v in found if v.policy == POLICY] == []


# -- cube locations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_cube_uris_are_the_stacks_own_containers(stack):
    m, cfg = manifest(stack), stack_config(stack)
    created = {c.name.rsplit("-store-", 1)[1]: c.inputs["name"] for c in m.of_type(CONTAINER)}
    uris = cubes_env(m)
    assert set(uris) == {cube.id for cube in cfg.services.data.cubes}
    for cube in cfg.services.data.cubes:
        assert uris[cube.id] == f"s3://{created[cube.container]}/{cube.path}"


@pytest.mark.parametrize(
    ("stack", "cube", "message"),
    [
        ("ovh", {"id": "x", "container": "cubes", "path": "x.zarr"}, "not one of the stack's containers"),
        ("ovh", {"id": "x", "container": "scratch"}, "container and path go together"),
        ("ovh", {"id": "x", "container": "scratch", "path": "a", "eodata": "b"}, "either container"),
        ("ovh", {"id": "x", "container": "scratch", "path": "/abs.zarr"}, "must be a relative path"),
        ("ovh", {"id": "x", "eodata": "cubes/x.zarr"}, "cloud.eodata is not set"),
        ("creodias", {"id": "x", "uri": "/eodata-cubes/x.zarr"}, "unknown key 'uri'"),
    ],
)
def test_a_cube_outside_the_stacks_storage_is_a_config_error(stack, cube, message):
    with pytest.raises(ConfigError, match=message) as error:
        config_with(stack, ("services.data.cubes", [cube]))
    assert "services.data.cubes" in str(error.value)


def test_an_eodata_cube_needs_every_data_node_to_mount_eodata():
    cfg = config_with(
        "creodias",
        ("services.data.cubes", [{"id": "x", "eodata": "cubes/x.zarr"}]),
        ("swarm.workers.eodata", False),
    )
    with pytest.raises(ConfigError, match=r"swarm.workers.eodata.*for services.data.cubes.0.eodata"):
        storage_wiring.cube_uris(cfg, "store")


def test_an_eodata_cube_is_read_through_the_read_only_bind():
    cube = json.dumps([{"id": "archive", "eodata": "cubes/archive.zarr"}])
    m = evaluate("creodias", [f"services.data.cubes={cube}"])
    assert cubes_env(m) == {"archive": "/eodata/cubes/archive.zarr"}
    assert mine(m) == []


# -- EODATA -------------------------------------------------------------------------------------------


def test_eodata_is_bound_read_only_where_the_data_nodes_mount_it():
    creodias = manifest("creodias")
    eodata = {"source": "/eodata", "target": "/eodata", "type": "bind", "readOnly": True}
    for name in EODATA_SERVICES:
        assert binds(creodias, name) == [eodata], name
    assert binds(creodias, "dask-scheduler") == []  # it reads no data
    for name in (*EODATA_SERVICES, "dask-scheduler"):
        assert binds(manifest("ovh"), name) == [], name


def test_no_eodata_bind_when_the_data_nodes_do_not_mount_it():
    m = manifest("creodias", "swarm.workers.eodata=false")
    for name in EODATA_SERVICES:
        assert binds(m, name) == [], name
    assert mine(m) == []


# -- faults put back, named in one line ------------------------------------------------------------------


def set_env(key: str, value: str):
    def change(inputs: dict) -> None:
        inputs["taskSpec"]["containerSpec"]["env"][key] = value

    return change


def one(m: Manifest) -> str:
    found = lines(check(m))
    assert len(found) == 1, found
    assert found[0].startswith(f"{POLICY}: ")
    return found[0]


@pytest.mark.parametrize("stack", STACKS)
def test_a_worker_without_the_credential_secret_is_named(stack):
    def drop(inputs: dict) -> None:
        inputs["taskSpec"]["containerSpec"]["secrets"] = []

    line = one(changed(manifest(stack), service("dask-worker"), drop))
    assert "dask-worker: is an S3 client" in line and "/run/secrets/s3_credentials" in line


def test_a_worker_without_any_s3_settings_is_named_by_its_client():
    def strip(inputs: dict) -> None:
        spec = inputs["taskSpec"]["containerSpec"]
        spec["secrets"] = []
        spec["env"] = {k: v for k, v in spec["env"].items() if not k.startswith("AWS_")}

    line = one(changed(manifest("ovh"), service("dask-worker"), strip))
    assert "dask-worker: lacks the S3 credential that jupyter (a client of tcp://dask-scheduler:8786)" in line


def test_a_cube_in_a_bucket_the_stack_does_not_create_is_named():
    faulty = changed(
        manifest("ovh"), service("semantic-loader"), set_env("CUBES", "f=s3://deepcube-cubes/f.zarr")
    )
    line = one(faulty)
    assert "semantic-loader: s3://deepcube-cubes/f.zarr names container 'deepcube-cubes'" in line


def test_an_eodata_path_without_its_mount_is_named():
    def unbound(inputs: dict) -> None:
        spec = inputs["taskSpec"]["containerSpec"]
        spec["env"]["CUBES"] = "d=/eodata/cubes/d.zarr"
        spec["mounts"] = [m for m in spec["mounts"] if m["type"] != "bind"]

    line = one(changed(manifest("creodias"), service("semantic-loader"), unbound))
    assert "semantic-loader: uses /eodata/cubes/d.zarr under EODATA (/eodata) but binds no mount" in line


def test_an_eodata_bind_on_nodes_without_eodata_is_named():
    def bound(inputs: dict) -> None:
        spec = inputs["taskSpec"]["containerSpec"]
        spec["env"]["CUBES"] = "d=/eodata/cubes/d.zarr"
        spec["mounts"].append({"source": "/eodata", "target": "/eodata", "type": "bind", "readOnly": True})

    line = one(changed(manifest("ovh"), service("semantic-loader"), bound))
    assert "semantic-loader: binds host path /eodata, which no mount declares on" in line
    assert "swarm-worker-0" in line


def test_placing_an_eodata_service_on_nodes_without_eodata_is_named():
    def anywhere(inputs: dict) -> None:
        inputs["taskSpec"]["placement"]["constraints"] = ["node.platform.os==linux"]

    line = one(changed(manifest("creodias"), service("dask-worker"), anywhere))
    assert "dask-worker: binds host path /eodata, which no mount declares on" in line
    assert "manager-0" in line and "worker-0" not in line


def test_a_worker_without_the_clients_eodata_is_named():
    def unbound(inputs: dict) -> None:
        inputs["taskSpec"]["containerSpec"]["mounts"] = []

    line = one(changed(manifest("creodias"), service("dask-worker"), unbound))
    assert "dask-worker: lacks the mount /eodata that jupyter (a client of tcp://dask-scheduler:8786)" in line


def test_a_container_in_another_region_than_the_object_stores_is_named():
    def in_compute_region(inputs: dict) -> None:
        inputs["region"] = "GRA9"

    public = "deepcube-platform-ovh-store-cubes-published"
    line = one(
        changed(manifest("ovh"), lambda r: r.type == CONTAINER and r.name == public, in_compute_region)
    )
    assert line.startswith(f"{POLICY}: {public}: container {public} is created in region GRA9")
    assert "object store's region GRA" in line


def test_a_client_signing_for_another_region_is_named():
    wrong = changed(manifest("ovh"), service("jupyter"), set_env("AWS_DEFAULT_REGION", "us-east-1"))
    line = one(wrong)
    assert "jupyter" in line and "AWS_DEFAULT_REGION us-east-1" in line and "signed for gra" in line

    def unset(inputs: dict) -> None:
        del inputs["taskSpec"]["containerSpec"]["env"]["AWS_DEFAULT_REGION"]

    line = one(changed(manifest("creodias"), service("dask-scheduler"), unset))
    assert "dask-scheduler" in line and "no AWS_DEFAULT_REGION (us-east-1)" in line and "waw3-1" in line


def test_infra_plan_check_names_containers_created_in_the_compute_region(tmp_path):
    """The accident the object store's own region exists for, put back into the program."""
    store = "        region=cfg.cloud.object_storage.region,\n"
    run = check_with_a_fault(
        tmp_path, "ovh", "infra/__main__.py", store, "        region=cfg.cloud.region,\n"
    )
    assert run.returncode == 1, run.stderr
    found = run.stdout.splitlines()
    assert len(found) == 3, run.stdout  # the public container and the two private ones
    assert all(f"ovh: {POLICY}: " in line and "created in region GRA9" in line for line in found)


def test_keys_in_the_environment_and_a_foreign_endpoint_are_named():
    key = set_env("AWS_SECRET_ACCESS_KEY", "<secret:0123456789ab>")
    keyed = changed(manifest("ovh"), service("jupyter"), key)
    assert "jupyter: sets AWS_SECRET_ACCESS_KEY in its environment" in one(keyed)
    foreign = changed(
        manifest("ovh"),
        service("dask-scheduler"),
        set_env("AWS_ENDPOINT_URL", "https://s3.gra.io.cloud.ovh.net"),
    )
    line = one(foreign)
    assert "AWS_ENDPOINT_URL https://s3.gra.io.cloud.ovh.net is not the stack's endpoint" in line
    assert "dask-scheduler" in line


def test_infra_plan_check_names_a_worker_without_credentials_in_one_line(tmp_path):
    worker = "                secrets=access.secrets(),\n                secret_uid=PROJECT_IMAGE_UID,\n"
    run = check_with_a_fault(tmp_path, "ovh", "components/catalogue/data.py", worker, "")
    assert run.returncode == 1, run.stderr
    found = [line for line in run.stdout.splitlines() if f": {POLICY}: " in line]
    assert len(found) == 1, run.stdout
    assert found[0].startswith(f"ovh: {POLICY}: ") and "dask-worker: is an S3 client" in found[0]


@pytest.mark.parametrize(
    ("stack", "overrides", "mount"),
    [
        ("creodias", (), "/eodata"),
        ("creodias", (("swarm.managers.labels", {"role": "data"}),), None),  # Dask may land on managers
        ("creodias", (("swarm.workers.count", 0),), None),  # the data home is manager 0
        ("ovh", (), None),
    ],
)
def test_eodata_is_mounted_only_if_every_data_node_has_it(stack, overrides, mount):
    assert storage_wiring.eodata_mount(config_with(stack, *overrides)) == mount


# -- pure pieces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "AK\nX", "[other]"])
def test_a_credential_that_would_break_the_file_is_refused(bad):
    with pytest.raises(ValueError, match="would break the credentials file"):
        shared_credentials_file(bad, "secret")


def test_uris_and_paths_are_found_in_env_values_and_command_words():
    view = read_topology(manifest("creodias").resources).services
    (loader,) = [s for s in view if s.name == "semantic-loader"]
    assert s3_uris(loader) == [
        (
            "s3://deepcube-platform-creodias-store-cubes-work/drought.zarr",
            "deepcube-platform-creodias-store-cubes-work",
        )
    ]
    paths = absolute_paths(loader)
    assert "/mapping" in paths and "/run/secrets/s3_credentials" in paths
    assert not [p for p in paths if p.startswith("//")]
