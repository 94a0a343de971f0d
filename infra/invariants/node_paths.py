"""What services expect of their node's Docker and kernel, against what the node's cloud-init sets.

- A bind mount of Docker's own files (under a data-root) only works where that is the node's
  data-root; global services (Filebeat, cAdvisor, the Portainer agent) run on every node, so every
  node they can land on must keep Docker's files at that path.
- Reading container logs from `<data-root>/containers` needs the `json-file` log driver: the
  `local` driver writes a binary format no log shipper reads.
- Kernel parameters a service declares (label `deepcube.host-sysctl.<key>`) must be set at least
  that high on every node it can land on.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.service_spec import HOST_SYSCTL_LABEL
from infra.invariants.topology import DEFAULT_DATA_ROOT, SwarmNode, SwarmServiceView, read_topology
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation

LOG_READING_DRIVERS = ("json-file",)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _docker_path_faults(service: SwarmServiceView, node: SwarmNode, roots: set[str]) -> list[str]:
    faults = []
    for bind in service.binds:
        if not any(_under(bind.source, root) for root in roots):
            continue
        if not _under(bind.source, node.data_root):
            faults.append(f"binds {bind.source} but {node.hostname} keeps Docker's files in {node.data_root}")
            continue
        reads_logs = _under(bind.source, f"{node.data_root}/containers")
        if reads_logs and node.log_driver not in LOG_READING_DRIVERS:
            faults.append(
                f"reads container logs from {bind.source} but {node.hostname} logs with the "
                f"{node.log_driver!r} driver (readable: {', '.join(LOG_READING_DRIVERS)})"
            )
    return faults


def _sysctl_faults(service: SwarmServiceView, node: SwarmNode) -> list[str]:
    faults = []
    for label, minimum in sorted(service.labels.items()):
        if not label.startswith(HOST_SYSCTL_LABEL):
            continue
        key = label.removeprefix(HOST_SYSCTL_LABEL)
        value = node.sysctls.get(key)
        if value is None or not value.isdigit() or int(value) < int(minimum):
            faults.append(f"needs {key} >= {minimum} but {node.hostname} sets {value or 'nothing'}")
    return faults


def docker_paths_match_nodes(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Binds of Docker's files and required sysctls agree with every node the service can land on."""
    topology = read_topology(records)
    roots = {DEFAULT_DATA_ROOT, *(node.data_root for node in topology.nodes)}
    violations = []
    for service in topology.services:
        for node in topology.candidates(service):
            if node.hidden:
                continue  # its cloud-init is a secret: nothing to compare with
            faults = [*_docker_path_faults(service, node, roots), *_sysctl_faults(service, node)]
            violations += [Violation("node-paths", service.urn, fault) for fault in faults]
    return violations
