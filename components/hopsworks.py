"""The Hopsworks cluster: a head node, on-prem workers and an on-demand GPU worker pool.

Hopsworks 3.x installs on plain VMs with its installer (karamel + chef-solo), run on the head as
the login user, which then reaches the workers over SSH. The installer (karamel-chef 3.4) has no
action that adds a worker to an existing cluster: `-i cluster -w <IPs>` writes a new cluster
definition (with new service passwords) for the head plus exactly the workers listed. So:
- the installer's RSA key is generated here (secret), its public half authorised on every node
  through cloud-init and its private half written to the head (stdin);
- the head is installed alone, once: `hopsworks-installer.sh -i cluster -ni -c on-premises -w none
  -dr` writes the cluster definition, then karamel runs it in the foreground (the installer would
  detach it, so nothing could wait for it). Nothing in this command depends on the workers;
- every worker, CPU or GPU, is enrolled by its own command on the head: it fills the installer's
  own worker group template for that node, appends it to the saved cluster definition and runs
  karamel on it again (chef-solo converges the nodes already installed and installs the new one);
- that command's delete decommissions the node first (YARN exclude list, HopsFS decommission and
  a bounded wait for re-replication, kagent's shutdown script on the node) and drops its group
  from the definition, before the instance is destroyed.
Every step that runs the installer or karamel, or edits the definition, holds one `flock` on
the head, so they never overlap.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_tls as tls
from pulumi_command import remote

from components import cloud_init, waits
from components.access import SshAccess
from components.nodes import NodePool, NodePoolArgs

TYPE_TOKEN = "deepcube:hopsworks:HopsworksCluster"

WorkerKind = Literal["cpu", "gpu"]
"""Which of the installer's worker group templates a node is enrolled with."""

# -- where things are on the head (the installer's and the chef cookbooks' own paths) --------------

INSTALLER = "~/hopsworks-installer.sh"
LOCK = "~/.hopsworks-installer.lock"
DEFINITIONS = "~/cluster-defns"
DEFINITION = f"{DEFINITIONS}/hopsworks-installation.yml"
"""The cluster definition the installer writes (with the generated service passwords)."""
TEMPLATES: dict[WorkerKind, str] = {
    "cpu": f"{DEFINITIONS}/hopsworks-worker.yml",
    "gpu": f"{DEFINITIONS}/hopsworks-worker-gpu.yml",
}
"""The installer's worker group templates (it downloads both next to the definition)."""
INSTALL_LOG = "~/installation.log"
KAGENT_BIN = "/srv/hops/kagent/kagent/bin"
SHUTDOWN = f"sudo {KAGENT_BIN}/shutdown-all-local-services.sh -f"
HADOOP = "/srv/hops/hadoop"
DFS_EXCLUDE = f"{HADOOP}/etc/hadoop/dfs.exclude"
"""`dfs.hosts.exclude` as hops-hadoop-chef configures it on the NameNode (the head)."""
YARN_EXCLUDE = f"{HADOOP}/etc/hadoop/yarn_exclude_nodes.xml"
"""`yarn.resourcemanager.nodes.exclude-path` as hops-hadoop-chef configures it on the head."""
HDFS_ADMIN = f"sudo -u hdfs {HADOOP}/bin/hdfs dfsadmin"
YARN_ADMIN = f"sudo -u rmyarn {HADOOP}/bin/yarn rmadmin"
SKIP_WAIT = "~/.hopsworks-skip-decommission-wait"
"""If this file exists on the head, removal stops waiting for HopsFS (whole-stack teardown)."""
NAMENODE_SILENT = 3
"""Exit status of the decommission wait when `dfsadmin -report` itself fails."""
DECOMMISSION_WAIT_MINUTES = 120
POLL_SECONDS = 30
READY_TIMEOUT_S = 3600
"""A new node's first boot: its data volume, and on GPU nodes the NVIDIA driver install."""
HEAD_READY_TIMEOUT_S = 3600
"""The head's first boot (its data volume), before the installer may run."""
SSH_OPTS = "-o StrictHostKeyChecking=no -o BatchMode=yes"
AS_ROOT = "sudo "

INSTALL_KEY_COMMAND = (
    "install -d -m 700 ~/.ssh && (umask 077 && cat > ~/.ssh/id_rsa) && "
    "ssh-keygen -y -f ~/.ssh/id_rsa > ~/.ssh/id_rsa.pub"
)

# -- pure command builders: values -----------------------------------------------------------------


def checked_ipv4(address: str) -> str:
    """The address, refused unless it is a plain IPv4 address: it ends up in ssh arguments, sed
    expressions and awk programs."""
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError as exc:
        raise ValueError(f"not an IPv4 address: {address!r}") from exc


def worker_id(kind: WorkerKind, index: int) -> str:
    """The node's id in the installer's group templates (`worker__WORKER_ID__`): stable per node,
    distinct between the CPU and GPU pools whatever the templates' prefixes are."""
    if index < 0:
        raise ValueError(f"node index must be >= 0, got {index}")
    return f"{kind}{index}"


def installer_args() -> list[str]:
    """The head-only install, on premises, non-interactive: `-w none` adds no worker; `-dr` (dry
    run) does everything but start karamel, which `karamel_run` then runs in the foreground."""
    return ["-i", "cluster", "-ni", "-c", "on-premises", "-w", "none", "-dr"]


# -- pure command builders: shell pieces -----------------------------------------------------------


def ssh(address: str, command: str) -> str:
    """`command` run on a node from the head, with the installer's key."""
    return f"ssh {SSH_OPTS} {shlex.quote(checked_ipv4(address))} {shlex.quote(command)}"


def locked(steps: Sequence[str], lock: str = LOCK) -> str:
    """`steps` in a subshell holding the installer lock on fd 9 (released when the subshell ends)."""
    return f"( flock 9; {'; '.join(steps)} ) 9>{lock}"


def wait_until_ready(address: str, timeout_s: int = READY_TIMEOUT_S) -> str:
    """Wait until the node accepts the installer's key and its cloud-init (volume, driver) is done;
    bounded, and a failed cloud-init on the node fails the command at once."""
    ip = checked_ipv4(address)
    return waits.cloud_init_done(
        where=ip, timeout_s=timeout_s, status=ssh(ip, waits.CLOUD_INIT_STATUS), interval_s=10
    )


def karamel_run(definition: str = DEFINITION, log: str = INSTALL_LOG) -> str:
    """Run karamel on the definition exactly as the installer does, but in the foreground and with
    its log kept on the head (the tail is shown when it fails)."""
    launch = f"./bin/karamel -headless -launch ../{definition.removeprefix('~/')}"
    return f"( cd ~/karamel-*/ && {launch} ) >>{log} 2>&1 || {{ tail -n 40 {log}; exit 1; }}"


def installed_check(address: str | None = None) -> str:
    """Fail unless kagent's service scripts are on the node (the head when `address` is None)."""
    test = f"test -x {KAGENT_BIN}/shutdown-all-local-services.sh"
    return test if address is None else ssh(address, test)


def sed_replacement(text: str) -> str:
    """`text` as a literal in the replacement of a sed `s#…#…#` command."""
    return re.sub(r"([\\&#])", r"\\\1", text)


def rewrite(path: str, program: str, variable: str, value: str, as_root: str = AS_ROOT) -> str:
    """Filter a root-owned file through an awk program comparing plain strings (no regular
    expression built from an address), writing back in place so its owner and mode stay."""
    awk = f"{as_root}awk -v {variable}={shlex.quote(value)} {shlex.quote(program)} {path}"
    return f't=$(mktemp); {awk} > "$t"; {as_root}cp "$t" {path}; rm -f "$t"'


def yarn_entry(address: str) -> str:
    """A host in YARN's XML exclude file."""
    return f"<host><name>{checked_ipv4(address)}</name></host>"


def yarn_exclude(address: str, path: str = YARN_EXCLUDE, as_root: str = AS_ROOT) -> str:
    """Add the node to YARN's exclude file (created empty if missing), once."""
    entry = yarn_entry(address)
    insert = shlex.quote(f"s#</hosts>#{sed_replacement(entry)}</hosts>#")
    empty = shlex.quote('<?xml version="1.0"?><hosts/>')
    return (
        f"{{ {as_root}test -f {path} || echo {empty} | {as_root}tee {path} >/dev/null; }}; "
        f"{as_root}grep -qF {shlex.quote(entry)} {path} || "
        f"{as_root}sed -i -e 's#<hosts/>#<hosts></hosts>#' -e {insert} {path}"
    )


def yarn_readmit(address: str, refresh: str, path: str = YARN_EXCLUDE, as_root: str = AS_ROOT) -> str:
    """If the node is in YARN's exclude file, drop it and run `refresh`: OpenStack hands a freed
    address to the next new node, which must not start out excluded."""
    entry = yarn_entry(address)
    program = "{ while ((i = index($0, e)) > 0) $0 = substr($0, 1, i - 1) substr($0, i + length(e)); print }"
    return (
        f"if {as_root}grep -qF {shlex.quote(entry)} {path} 2>/dev/null; then "
        f"{rewrite(path, program, 'e', entry, as_root)}; {refresh}; fi"
    )


def hdfs_exclude(address: str, path: str = DFS_EXCLUDE, as_root: str = AS_ROOT) -> str:
    """Add the node to HopsFS' exclude file, once."""
    ip = shlex.quote(checked_ipv4(address))
    return f"{as_root}grep -qxF {ip} {path} 2>/dev/null || echo {ip} | {as_root}tee -a {path} >/dev/null"


def hdfs_readmit(address: str, refresh: str, path: str = DFS_EXCLUDE, as_root: str = AS_ROOT) -> str:
    """If the node is in HopsFS' exclude file, drop that line and run `refresh`."""
    ip = checked_ipv4(address)
    return (
        f"if {as_root}grep -qxF {shlex.quote(ip)} {path} 2>/dev/null; then "
        f"{rewrite(path, '$0 != ip', 'ip', ip, as_root)}; {refresh}; fi"
    )


def hdfs_status_filter(address: str) -> str:
    """From `dfsadmin -report` on stdin, print the node's last word of "Decommission Status"
    (Normal, progress, Decommissioned), or nothing if the NameNode does not know the node."""
    program = (
        '$1 == "Name:" { hit = index($2, ip ":") == 1 } hit && /^Decommission Status/ { print $NF; exit }'
    )
    return f"awk -v ip={shlex.quote(checked_ipv4(address))} {shlex.quote(program)}"


def hdfs_wait(
    address: str,
    minutes: int = DECOMMISSION_WAIT_MINUTES,
    report: str = f"{HDFS_ADMIN} -report",
    skip: str = SKIP_WAIT,
    poll_seconds: int = POLL_SECONDS,
) -> str:
    """Wait until HopsFS has re-replicated the node's blocks elsewhere (or the node is unknown to the
    NameNode, or the skip file exists); fail after `minutes` so the node (and its blocks) are kept
    rather than destroyed. A report that fails ends the wait at once, as a failure."""
    ip = checked_ipv4(address)
    decommissioned = (
        f"r=$({report}) || exit {NAMENODE_SILENT}; "
        f"s=$(printf '%s\\n' \"$r\" | {hdfs_status_filter(ip)}); "
        'case "$s" in ""|Decommissioned) exit 0 ;; esac; '
        f"[ -e {skip} ]"
    )
    return waits.bounded_wait(
        decommissioned,
        what=f"HopsFS to decommission {ip} (the node is kept)",
        timeout_s=minutes * 60,
        interval_s=poll_seconds,
        fail={NAMENODE_SILENT: "the NameNode did not report"},
    )


def group_line(kind: WorkerKind, wid: str, template: str | None = None) -> str:
    """Set `$line` to the node's group header, read from the installer's template (`  worker…:`);
    fail if there is none (an empty header would match every blank line of the definition)."""
    source = template or TEMPLATES[kind]
    return f"line=$(head -n 1 {source} | sed 's/__WORKER_ID__/{wid}/'); test -n \"$line\""


def add_group(
    address: str,
    kind: WorkerKind,
    wid: str,
    definition: str = DEFINITION,
    template: str | None = None,
    remote_shell: str | None = None,
) -> str:
    """Append the node's group to the definition, as the installer's `add_worker` does (all its CPUs
    and memory to YARN), unless it is there already."""
    ip = checked_ipv4(address)
    source = template or TEMPLATES[kind]
    on_node = remote_shell or f"ssh {SSH_OPTS} {shlex.quote(ip)}"
    fill = " ".join(
        [
            f"-e 's/__WORKER_ID__/{wid}/'",
            f"-e 's/__WORKER_IP__/{ip}/'",
            '-e "s/__CPUS__/$cpus/"',
            '-e "s/__MBS__/$mbs/"',
        ]
    )
    return (
        f"{group_line(kind, wid, source)}; "
        f'grep -qxF "$line" {definition} || {{ '
        f"cpus=$({on_node} nproc); "
        f"mbs=$({on_node} free -m | awk '/^Mem:/ {{print $2}}'); "
        'test -n "$cpus"; test -n "$mbs"; '
        f"sed {fill} {source} >> {definition}; }}"
    )


def remove_group(
    kind: WorkerKind, wid: str, definition: str = DEFINITION, template: str | None = None
) -> str:
    """Drop the node's group (its header and the indented lines under it) from the definition."""
    program = "$0 == g { skip = 1; next } skip && /^[^ #]|^  [^ #]/ { skip = 0 } !skip"
    return (
        f"{group_line(kind, wid, template)}; "
        f'awk -v g="$line" {shlex.quote(program)} {definition} > {definition}.tmp && '
        f"mv {definition}.tmp {definition}"
    )


def definition_unwritten(definition: str = DEFINITION) -> str:
    """True unless the installer has written the definition to the end (no placeholder left)."""
    return f"[ ! -f {definition} ] || grep -q '__[A-Z][A-Z_]*__' {definition}"


# -- pure command builders: the three commands -----------------------------------------------------


def install_command(installer_url: str) -> str:
    """Install the head alone: fetch the installer, let it write the definition once (a second
    run would generate new passwords), run karamel on it; a retry reuses a complete definition."""
    fetch = f"curl -fsSL -o {INSTALLER} {shlex.quote(installer_url)} && chmod +x {INSTALLER}"
    args = " ".join(shlex.quote(arg) for arg in installer_args())
    steps = [
        f"[ -x {INSTALLER} ] || {{ {fetch}; }}",
        "cd ~",
        f"if {definition_unwritten()}; then {INSTALLER} {args}; fi",
        karamel_run(),
        installed_check(),
    ]
    ready = waits.cloud_init_done(where="the head", timeout_s=HEAD_READY_TIMEOUT_S)
    return f"set -e; {ready}; {locked(steps)}"


def enrol_command(address: str, kind: WorkerKind, wid: str) -> str:
    """Add one worker to the installed cluster: clear a stale exclusion of its address, append its
    group to the definition, run karamel, check kagent is on the node."""
    ip = checked_ipv4(address)
    steps = [
        hdfs_readmit(ip, f"{HDFS_ADMIN} -refreshNodes"),
        yarn_readmit(ip, f"{YARN_ADMIN} -refreshNodes"),
        add_group(ip, kind, wid),
        karamel_run(),
        installed_check(ip),
    ]
    return f"set -e; {wait_until_ready(ip)}; {locked(steps)}"


def decommission_command(address: str, kind: WorkerKind, wid: str) -> str:
    """Before a worker is destroyed: stop YARN scheduling on it, decommission it from HopsFS and wait
    for its blocks to be re-replicated (bounded), stop its services, forget its group. Nothing is
    done if the head was never installed."""
    ip = checked_ipv4(address)
    steps = [
        f"[ -f {DEFINITION} ] || exit 0",
        yarn_exclude(ip),
        f"{YARN_ADMIN} -refreshNodes",
        hdfs_exclude(ip),
        f"{HDFS_ADMIN} -refreshNodes",
        hdfs_wait(ip),
        f"{ssh(ip, SHUTDOWN)} || true",
        remove_group(kind, wid),
    ]
    return f"set -e; {locked(steps)}"


# -- component --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HopsworksPool:
    """One Hopsworks node pool; its cloud-init is rendered by the component (it adds the key)."""

    pool: NodePoolArgs
    """Pool shape; its `user_data` is replaced by the rendered document."""
    data_volume: bool = False
    """Mount the pool's data volume at /srv (where the installer puts /srv/hops)."""
    eodata: cloud_init.EodataMount | None = None
    """EO data mount on these nodes, if any."""
    eodata_credentials: pulumi.Input[str] | None = None
    """Pulumi secret `ACCESS:SECRET` of that mount when it needs keys; the pool's cloud-init then
    holds them, so it is a secret too."""
    nvidia_driver: bool = False
    """Install the NVIDIA driver at first boot (images without it)."""


@dataclass(frozen=True)
class HopsworksClusterArgs:
    """Inputs of the Hopsworks cluster."""

    head: HopsworksPool
    """The head node (count 1; 30 GB / 8 vCPU class)."""
    workers: HopsworksPool
    """On-prem workers, each enrolled by its own command once the head is installed."""
    gpu_workers: HopsworksPool
    """GPU workers, enrolled the same way (count may be 0)."""
    installer_url: pulumi.Input[str]
    """URL of hopsworks-installer.sh; it may carry a token, so the command using it is always secret."""
    ssh: SshAccess
    """Credentials for remote commands, through the gateway."""
    authorized_keys: Sequence[str] = ()
    """Operators' public keys added on every node."""


class HopsworksCluster(pulumi.ComponentResource):
    """Head + workers + GPU pool, installed by the Hopsworks installer."""

    head: NodePool
    workers: NodePool
    gpu_workers: NodePool
    head_address: pulumi.Output[str]
    worker_addresses: list[pulumi.Output[str]]
    gpu_worker_addresses: list[pulumi.Output[str]]
    installer_key: tls.PrivateKey
    install: remote.Command
    enrolments: list[remote.Command]

    def __init__(self, name: str, args: HopsworksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.head.pool.count != 1:
            raise ValueError(f"{name}: Hopsworks has exactly one head node")
        self.installer_key = tls.PrivateKey(
            f"{name}-installer-key", algorithm="RSA", rsa_bits=4096, opts=child
        )
        public_key = self.installer_key.public_key_openssh.apply(str.strip)

        def pool(role: str, spec: HopsworksPool) -> NodePool:
            def document(key: str, credentials: str | None) -> str:
                eodata = spec.eodata
                if eodata is not None and credentials is not None:
                    eodata = dataclasses.replace(eodata, credentials=credentials)
                return cloud_init.hopsworks_node(
                    authorized_keys=[*args.authorized_keys, key],
                    volume=cloud_init.DataVolume("/srv") if spec.data_volume else None,
                    eodata=eodata,
                    nvidia_driver=spec.nvidia_driver,
                )

            if spec.eodata is not None and spec.eodata_credentials is not None:
                keys = pulumi.Output.secret(spec.eodata_credentials)
                user_data = pulumi.Output.secret(
                    pulumi.Output.all(public_key, keys).apply(lambda v: document(v[0], v[1]))
                )
            else:
                user_data = public_key.apply(lambda key: document(key, None))
            return NodePool(f"{name}-{role}", dataclasses.replace(spec.pool, user_data=user_data), child)

        self.head = pool("head", args.head)
        self.workers = pool("worker", args.workers)
        self.gpu_workers = pool("gpu", args.gpu_workers)
        self.head_address = self.head.addresses[0]
        self.worker_addresses = self.workers.addresses
        self.gpu_worker_addresses = self.gpu_workers.addresses
        on_head = args.ssh.connection(self.head_address)

        key = remote.Command(
            f"{name}-installer-key",
            connection=on_head,
            create=INSTALL_KEY_COMMAND,
            stdin=pulumi.Output.secret(self.installer_key.private_key_openssh),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.head.instances[0]]),
        )
        # The head install knows nothing of the workers: scaling a pool never re-runs it.
        self.install = remote.Command(
            f"{name}-install",
            connection=on_head,
            create=pulumi.Output.secret(args.installer_url).apply(install_command),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key]),
        )
        self.enrolments = [
            *self._enrol(self.workers, "cpu", on_head),
            *self._enrol(self.gpu_workers, "gpu", on_head),
        ]
        self.register_outputs(
            {
                "head_address": self.head_address,
                "worker_addresses": self.worker_addresses,
                "gpu_worker_addresses": self.gpu_worker_addresses,
            }
        )

    def _enrol(
        self, nodes: NodePool, kind: WorkerKind, on_head: remote.ConnectionArgs
    ) -> list[remote.Command]:
        """One command per node: enrol on create, decommission on delete (it runs before the
        instance it depends on is destroyed)."""
        commands = []
        for index, hostname in enumerate(nodes.hostnames):
            wid = worker_id(kind, index)
            address = nodes.addresses[index]
            commands.append(
                remote.Command(
                    f"{hostname}-enrol",
                    connection=on_head,
                    create=address.apply(lambda ip, wid=wid: enrol_command(ip, kind, wid)),
                    delete=address.apply(lambda ip, wid=wid: decommission_command(ip, kind, wid)),
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=[self.install, nodes.instances[index]]
                    ),
                )
            )
        return commands
