"""Docker's overlay networks fit into the node networks: the real plans, then each fault put back.

Every overlay network of both stacks carries `com.docker.network.driver.mtu` = node MTU - 50, and
every swarm node's daemon.json gives new overlays and its bridges the same bounds. Then the option is
removed or raised, the daemon's defaults dropped, the node network's MTU lowered (in the stack or by
a Neutron network that declares one), and the code fault is put back into a copy of the project:
each time `overlay-mtu` names the network (or node) at fault, one line each.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.network import MTU_OPTION, VXLAN_OVERHEAD, overlay_mtu
from infra.invariants.topology import read_topology
from infra.manifest import Manifest, ResourceRecord
from infra.policies import check_manifest, short_config
from infra.stack_files import read_stack
from tests.infra.projects import check_with_a_fault
from tests.infra.test_platform_plan import STACKS, manifest
from tests.infra.test_wiring_invariants import changed, check, daemon, lines, swarm_worker, with_user_data

POLICY = "overlay-mtu"
DOCKER_NETWORK = "docker:index/network:Network"
NEUTRON_NETWORK = "openstack:networking/network:Network"


def mine(m: Manifest, config_edit: Callable[[dict], None] | None = None) -> list[str]:
    project, config = read_stack(m.stack)
    short = short_config(config.values, project.name)
    if config_edit is not None:
        config_edit(short)
    return [v.line() for v in check_manifest(m, short) if v.policy == POLICY]


def overlays(m: Manifest) -> list[ResourceRecord]:
    found = [r for r in m.of_type(DOCKER_NETWORK) if r.inputs.get("driver") == "overlay"]
    assert found, "the plan declares no overlay network"
    return found


def network(logical: str) -> Callable[[ResourceRecord], bool]:
    return lambda r: r.type == DOCKER_NETWORK and r.name.endswith(f"-net-{logical}")


@pytest.mark.parametrize("stack", STACKS)
def test_every_overlay_and_every_nodes_docker_fits_the_node_network(stack):
    m = manifest(stack)
    assert {r.inputs["options"][MTU_OPTION] for r in overlays(m)} == {"1400"}
    topology = read_topology(m.resources)
    assert topology.nodes
    for node in topology.nodes:
        assert node.daemon["mtu"] == 1450, node.hostname
        assert node.daemon["default-network-opts"] == {
            "overlay": {MTU_OPTION: "1400"},
            "bridge": {MTU_OPTION: "1450"},
        }
    assert mine(m) == []


def test_a_larger_node_network_moves_every_bound_with_it():
    m = manifest("ovh", "network.mtu=1500")
    assert {r.inputs["options"][MTU_OPTION] for r in overlays(m)} == {"1450"}
    assert {node.daemon["mtu"] for node in read_topology(m.resources).nodes} == {1500}
    assert mine(m, lambda c: c["network"].update(mtu=1500)) == []


def test_an_overlay_without_an_mtu_is_named_in_one_line():
    def drop(inputs: dict) -> None:
        del inputs["options"][MTU_OPTION]

    found = mine(changed(manifest("ovh"), network("data"), drop))
    assert found == [
        f"{POLICY}: deepcube-platform-ovh-services-net-data: overlay network deepcube-platform-ovh-data "
        "sets no MTU: Docker's 1500 exceeds 1400 (the node network's 1450 less the 50-byte VXLAN header)"
    ]
    assert lines(check(changed(manifest("ovh"), network("data"), drop))) == found  # nothing else breaks


@pytest.mark.parametrize("raised", ["1450", "1401"])
def test_an_overlay_mtu_above_the_node_network_less_vxlan_is_named(raised):
    def raise_(inputs: dict) -> None:
        inputs["options"][MTU_OPTION] = raised

    (line,) = mine(changed(manifest("creodias"), network("edge"), raise_))
    assert line.startswith(f"{POLICY}: deepcube-platform-creodias-services-net-edge: ")
    assert f"has MTU {raised}, above 1400" in line


def test_an_mtu_option_that_is_no_number_is_named():
    def garble(inputs: dict) -> None:
        inputs["options"][MTU_OPTION] = "big"

    (line,) = mine(changed(manifest("ovh"), network("logs"), garble))
    assert "net-logs" in line and "'big' is not a number" in line


def test_the_stacks_node_mtu_is_the_source_of_truth():
    """A stack on a smaller node network: every overlay the plan still sizes for 1450 is named."""
    m = manifest("ovh")
    found = mine(m, lambda c: c["network"].update(mtu=1400))
    networks = [line for line in found if ": overlay network " in line]
    assert {line.split(": ")[1] for line in networks} == {r.name for r in overlays(m)}
    assert all("has MTU 1400, above 1350 (the node network's 1400 less" in line for line in networks)
    # The nodes' Docker is sized for 1450 too: each node is named for its defaults.
    nodes = {line.split(": ")[1] for line in found if line not in networks}
    assert nodes == {node.hostname for node in read_topology(m.resources).nodes}


def test_a_neutron_network_that_declares_its_mtu_wins():
    def declare(inputs: dict) -> None:
        inputs["mtu"] = 1300

    swarm_net = "deepcube-platform-ovh-net-swarm"
    m = changed(manifest("ovh"), lambda r: r.type == NEUTRON_NETWORK and r.name == swarm_net, declare)
    found = mine(m)
    assert len([line for line in found if ": overlay network " in line]) == len(overlays(m))
    assert all(
        f"above {overlay_mtu(1300)}" in line or "above the node network's 1300" in line for line in found
    )


def test_a_node_whose_docker_forgets_the_bounds_is_named():
    plain = daemon({"log-driver": "json-file"})
    found = mine(changed(manifest("ovh"), swarm_worker, with_user_data(plain)))
    workers = {line.split(": ")[1] for line in found}
    assert workers == {"deepcube-platform-ovh-swarm-worker-0", "deepcube-platform-ovh-swarm-worker-1"}
    assert len(found) == 4  # per worker: the default for new overlays, and the default bridge
    overlay = "Docker's MTU for new overlay networks is 1500 (daemon.json sets none), above 1400"
    assert sum(overlay in line for line in found) == 2
    assert (
        sum(
            "default bridge MTU is 1500 (daemon.json sets none), above the node network's 1450" in line
            for line in found
        )
        == 2
    )


def test_infra_plan_check_names_every_overlay_when_the_option_is_dropped_from_the_code(tmp_path):
    option = "                options={MTU_OPTION: str(args.overlay_mtu)},\n"
    run = check_with_a_fault(tmp_path, "ovh", "components/platform_services.py", option, "")
    assert run.returncode == 1, run.stderr
    found = run.stdout.splitlines()
    assert found and all(line.startswith(f"ovh: {POLICY}: ") and "sets no MTU" in line for line in found)
    named = {line.split(": ")[2] for line in found}
    assert named == {r.name for r in overlays(manifest("ovh"))} and len(named) == len(found)


def test_the_header_is_vxlans():
    assert VXLAN_OVERHEAD == 50 and overlay_mtu(1450) == 1400
    with pytest.raises(ValueError, match="no room"):
        overlay_mtu(600)
