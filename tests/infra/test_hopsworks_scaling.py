"""Adding or removing one Hopsworks worker is a step on that node alone.

Two halves: the shell the component sends to the head, built by pure functions and checked both
as text (quoting, the lock) and by running the pieces that edit files against temporary copies;
and the real program evaluated offline at two worker counts, whose diff must touch only the one
node's resources and its enrolment command (never the head install).
"""

from __future__ import annotations

import functools
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from components import hopsworks_commands as hw
from components import waits
from infra.config import from_mapping, sections_of
from infra.manifest import Manifest, ResourceRecord, secret_marker
from infra.offline import evaluate
from infra.plan_diff import diff_manifests
from infra.stack_files import read_stack

STACKS = ("ovh", "creodias")
COMMAND = "command:remote:Command"
INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
VOLUME = "openstack:blockstorage/volume:Volume"
ATTACH = "openstack:compute/volumeAttach:VolumeAttach"
URL = "https://example.eu/karamel-chef/3.4/hopsworks-installer.sh"
LOCKED = "( flock 9; "
UNLOCKED = " ) 9>~/.hopsworks-installer.lock"


def sh(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a built command with bash, as the head's login shell would (errors are fatal)."""
    return subprocess.run(
        ["bash", "-c", f"set -e; {script}"], cwd=cwd, capture_output=True, text=True, timeout=30
    )


def inside_lock(command: str, piece: str) -> bool:
    """`piece` runs in the subshell that holds the installer lock."""
    start, end = command.index(LOCKED), command.rindex(UNLOCKED)
    return start < command.index(piece) < end


# -- values and small pieces ------------------------------------------------------------------------


def test_addresses_are_checked_before_they_reach_a_shell():
    assert hw.checked_ipv4("10.30.0.7") == "10.30.0.7"
    for bad in ["10.30.0.7; reboot", "10.30.0.7 -oProxyCommand=x", "$(id)", "10.30.0.256", "fe80::1", ""]:
        with pytest.raises(ValueError, match="not an IPv4 address"):
            hw.enrol_command(bad, "cpu", "cpu0")
        with pytest.raises(ValueError, match="not an IPv4 address"):
            hw.decommission_command(bad, "gpu", "gpu0")


def test_worker_ids_are_stable_and_distinct_between_pools():
    assert hw.worker_id("cpu", 0) == "cpu0"
    assert hw.worker_id("gpu", 0) == "gpu0"
    assert hw.worker_id("cpu", 12) == "cpu12"
    with pytest.raises(ValueError):
        hw.worker_id("cpu", -1)


def test_small_pieces_are_exact():
    assert hw.ssh("10.30.0.7", "nproc") == "ssh -o StrictHostKeyChecking=no -o BatchMode=yes 10.30.0.7 nproc"
    assert hw.ssh("10.30.0.7", "cloud-init status --wait").endswith(" 10.30.0.7 'cloud-init status --wait'")
    assert hw.locked(["a", "b"]) == "( flock 9; a; b ) 9>~/.hopsworks-installer.lock"
    assert hw.karamel_run() == (
        "( cd ~/karamel-*/ && ./bin/karamel -headless -launch ../cluster-defns/hopsworks-installation.yml )"
        " >>~/installation.log 2>&1 || { tail -n 40 ~/installation.log; exit 1; }"
    )
    assert hw.installed_check() == "test -x /srv/hops/kagent/kagent/bin/shutdown-all-local-services.sh"
    assert hw.hdfs_exclude("10.30.0.7") == (
        "sudo grep -qxF 10.30.0.7 /srv/hops/hadoop/etc/hadoop/dfs.exclude 2>/dev/null"
        " || echo 10.30.0.7 | sudo tee -a /srv/hops/hadoop/etc/hadoop/dfs.exclude >/dev/null"
    )
    assert hw.hdfs_readmit("10.30.0.7", "refresh") == (
        "if sudo grep -qxF 10.30.0.7 /srv/hops/hadoop/etc/hadoop/dfs.exclude 2>/dev/null; then "
        "t=$(mktemp); sudo awk -v ip=10.30.0.7 '$0 != ip' /srv/hops/hadoop/etc/hadoop/dfs.exclude"
        ' > "$t"; sudo cp "$t" /srv/hops/hadoop/etc/hadoop/dfs.exclude; rm -f "$t"; refresh; fi'
    )


# -- the three commands -----------------------------------------------------------------------------


def test_head_install_is_the_installer_alone_then_karamel_under_the_lock():
    command = hw.install_command(URL)
    assert hw.installer_args() == ["-i", "cluster", "-ni", "-c", "on-premises", "-w", "none", "-dr"]
    assert command == (
        f"set -e; {waits.cloud_init_done(where='the head', timeout_s=hw.HEAD_READY_TIMEOUT_S)}; ( flock 9; "
        f"[ -x ~/hopsworks-installer.sh ] || {{ curl -fsSL -o ~/hopsworks-installer.sh {URL}"
        " && chmod +x ~/hopsworks-installer.sh; }; cd ~; "
        "if [ ! -f ~/cluster-defns/hopsworks-installation.yml ]"
        " || grep -q '__[A-Z][A-Z_]*__' ~/cluster-defns/hopsworks-installation.yml;"
        " then ~/hopsworks-installer.sh -i cluster -ni -c on-premises -w none -dr; fi; "
        f"{hw.karamel_run()}; {hw.installed_check()}"
        " ) 9>~/.hopsworks-installer.lock"
    )
    assert inside_lock(command, "~/hopsworks-installer.sh -i cluster")
    assert inside_lock(command, "./bin/karamel -headless -launch")


def test_installer_url_is_quoted():
    command = hw.install_command("https://user:t$k'n@example.eu/x.sh")
    assert "curl -fsSL -o ~/hopsworks-installer.sh 'https://user:t$k'\"'\"'n@example.eu/x.sh'" in command


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_enrolment_adds_one_group_and_runs_karamel_never_a_cluster_install(kind):
    command = hw.enrol_command("10.30.0.7", kind, f"{kind}3")
    assert "-i cluster" not in command and "hopsworks-installer.sh" not in command
    assert command.startswith(f"set -e; {hw.wait_until_ready('10.30.0.7')}; {LOCKED}")
    assert command.endswith(UNLOCKED)
    template = hw.TEMPLATES[kind]
    steps = [
        "/srv/hops/hadoop/etc/hadoop/dfs.exclude",  # a reused address is admitted again
        "/srv/hops/hadoop/etc/hadoop/yarn_exclude_nodes.xml",
        f"line=$(head -n 1 {template} | sed 's/__WORKER_ID__/{kind}3/')",
        f'-e \'s/__WORKER_IP__/10.30.0.7/\' -e "s/__CPUS__/$cpus/" -e "s/__MBS__/$mbs/" {template}'
        " >> ~/cluster-defns/hopsworks-installation.yml",
        "./bin/karamel -headless -launch ../cluster-defns/hopsworks-installation.yml",
        "10.30.0.7 'test -x /srv/hops/kagent/kagent/bin/shutdown-all-local-services.sh'",
    ]
    positions = [command.index(step) for step in steps]
    assert positions == sorted(positions)
    assert all(inside_lock(command, step) for step in steps)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_decommission_order_is_yarn_hopsfs_wait_shutdown_forget(kind):
    command = hw.decommission_command("10.30.0.7", kind, f"{kind}1")
    assert command.startswith(
        f"set -e; {LOCKED}[ -f ~/cluster-defns/hopsworks-installation.yml ] || exit 0; "
    )
    assert command.endswith(UNLOCKED)
    steps = [
        "<host><name>10.30.0.7</name></host>",
        "sudo -u rmyarn /srv/hops/hadoop/bin/yarn rmadmin -refreshNodes",
        "echo 10.30.0.7 | sudo tee -a /srv/hops/hadoop/etc/hadoop/dfs.exclude",
        "sudo -u hdfs /srv/hops/hadoop/bin/hdfs dfsadmin -refreshNodes",
        "r=$(sudo -u hdfs /srv/hops/hadoop/bin/hdfs dfsadmin -report)",
        "10.30.0.7 'sudo /srv/hops/kagent/kagent/bin/shutdown-all-local-services.sh -f' || true",
        f"head -n 1 {hw.TEMPLATES[kind]} | sed 's/__WORKER_ID__/{kind}1/'",
    ]
    positions = [command.index(step) for step in steps]
    assert positions == sorted(positions)
    assert all(inside_lock(command, step) for step in steps)
    # Only the shutdown on the node itself may fail (the node can be gone already).
    assert command.count("|| true") == 1


# -- the file edits, run for real against temporary copies ------------------------------------------

DEFINITION = """\
name: Hopsworks
attrs:
  hops:
    yarn:
      memory_mbs: 4096
groups:
  metaserver:
    size: 1
    baremetal:
      ip: 10.30.0.2
    recipes:
      - kagent
      - hops::nn
"""

CPU_TEMPLATE = """\
  worker__WORKER_ID__:
    size: 1
    baremetal:
      ip: __WORKER_IP__
    recipes:
      - kagent
      - hops::dn
#      - an::optional_recipe


"""

GPU_TEMPLATE = """\
  gpuworker__WORKER_ID__:
    size: 1
    baremetal:
      ip: __WORKER_IP__
    attrs:
      hops:
        yarn:
          vcores: __CPUS__
          memory_mbs: __MBS__
    recipes:
      - kagent
      - hops::nm
"""

FAKE_NODE = """\
#!/bin/sh
case "$*" in
  nproc) echo 8 ;;
  "free -m") printf '      total   used\\nMem:  64000   1000\\nSwap:     0      0\\n' ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def head(tmp_path: Path) -> Path:
    """A head's cluster-defns folder with a definition, both templates and a fake worker shell."""
    (tmp_path / "def.yml").write_text(DEFINITION)
    (tmp_path / "cpu.yml").write_text(CPU_TEMPLATE)
    (tmp_path / "gpu.yml").write_text(GPU_TEMPLATE)
    node = tmp_path / "node"
    node.write_text(FAKE_NODE)
    node.chmod(0o755)
    return tmp_path


def add(head: Path, ip: str, kind: hw.WorkerKind, wid: str) -> subprocess.CompletedProcess[str]:
    template = str(head / f"{kind}.yml")
    script = hw.add_group(ip, kind, wid, str(head / "def.yml"), template, remote_shell=str(head / "node"))
    return sh(script, head)


def remove(head: Path, kind: hw.WorkerKind, wid: str) -> subprocess.CompletedProcess[str]:
    return sh(hw.remove_group(kind, wid, str(head / "def.yml"), str(head / f"{kind}.yml")), head)


def test_groups_are_added_once_and_removed_alone(head: Path):
    assert add(head, "10.30.0.7", "cpu", "cpu0").returncode == 0
    assert add(head, "10.30.0.9", "gpu", "gpu0").returncode == 0
    assert add(head, "10.30.0.8", "cpu", "cpu1").returncode == 0
    assert add(head, "10.30.0.7", "cpu", "cpu0").returncode == 0  # a retry adds nothing
    text = (head / "def.yml").read_text()
    assert text.startswith(DEFINITION)
    assert text.count("  workercpu0:\n") == 1
    assert "      ip: 10.30.0.7\n" in text and "      ip: 10.30.0.8\n" in text
    assert "  gpuworkergpu0:\n" in text
    assert "          vcores: 8\n          memory_mbs: 64000\n" in text
    assert "__" not in text

    assert remove(head, "gpu", "gpu0").returncode == 0
    assert remove(head, "cpu", "cpu0").returncode == 0
    text = (head / "def.yml").read_text()
    assert "gpuworker" not in text and "10.30.0.9" not in text and "64000" not in text
    assert "workercpu0" not in text and "10.30.0.7" not in text
    assert text.startswith(DEFINITION)  # the head's group and attributes are untouched
    assert "  workercpu1:\n    size: 1\n    baremetal:\n      ip: 10.30.0.8\n" in text
    assert remove(head, "cpu", "cpu0").returncode == 0  # removing twice is harmless
    assert (head / "def.yml").read_text() == text


def test_a_missing_template_changes_nothing(head: Path):
    (head / "cpu.yml").unlink()
    assert add(head, "10.30.0.7", "cpu", "cpu0").returncode != 0
    assert remove(head, "cpu", "cpu0").returncode != 0
    assert (head / "def.yml").read_text() == DEFINITION


def test_a_worker_that_cannot_be_measured_is_not_added(head: Path):
    (head / "node").write_text("#!/bin/sh\nexit 0\n")  # answers nothing
    assert add(head, "10.30.0.9", "gpu", "gpu0").returncode != 0
    assert (head / "def.yml").read_text() == DEFINITION


def test_yarn_exclusion_round_trip(tmp_path: Path):
    xml = tmp_path / "yarn_exclude_nodes.xml"
    xml.write_text('<?xml version="1.0"?><hosts/>')
    xml.chmod(0o700)  # as the ResourceManager recipe leaves it
    exclude = hw.yarn_exclude("10.30.0.7", str(xml), as_root="")
    assert sh(exclude, tmp_path).returncode == 0
    assert sh(hw.yarn_exclude("10.30.0.70", str(xml), as_root=""), tmp_path).returncode == 0
    assert sh(exclude, tmp_path).returncode == 0
    assert xml.read_text().strip() == (
        '<?xml version="1.0"?><hosts><host><name>10.30.0.7</name></host>'
        "<host><name>10.30.0.70</name></host></hosts>"
    )
    readmit = hw.yarn_readmit("10.30.0.7", "echo refreshed", str(xml), as_root="")
    assert sh(readmit, tmp_path).stdout == "refreshed\n"
    assert (
        xml.read_text().strip() == '<?xml version="1.0"?><hosts><host><name>10.30.0.70</name></host></hosts>'
    )
    assert sh(readmit, tmp_path).stdout == ""  # nothing left to readmit: no refresh
    assert stat.S_IMODE(xml.stat().st_mode) == 0o700
    missing = tmp_path / "absent.xml"
    assert sh(hw.yarn_exclude("10.30.0.7", str(missing), as_root=""), tmp_path).returncode == 0
    assert "<host><name>10.30.0.7</name></host></hosts>" in missing.read_text()


def test_hopsfs_exclusion_round_trip_matches_whole_addresses(tmp_path: Path):
    exclude_file = tmp_path / "dfs.exclude"
    exclude_file.write_text("10.30.0.70\n10x30x0x7\n")
    assert sh(hw.hdfs_exclude("10.30.0.7", str(exclude_file), as_root=""), tmp_path).returncode == 0
    assert sh(hw.hdfs_exclude("10.30.0.7", str(exclude_file), as_root=""), tmp_path).returncode == 0
    assert exclude_file.read_text() == "10.30.0.70\n10x30x0x7\n10.30.0.7\n"
    readmit = hw.hdfs_readmit("10.30.0.7", "echo refreshed", str(exclude_file), as_root="")
    assert sh(readmit, tmp_path).stdout == "refreshed\n"
    assert exclude_file.read_text() == "10.30.0.70\n10x30x0x7\n"
    assert sh(readmit, tmp_path).stdout == ""


REPORT = """\
Configured Capacity: 1000 (1 KB)
-------------------------------------------------
Live datanodes (3):

Name: 10.30.0.70:50010 (w70)
Hostname: w70
Decommission Status : Normal

Name: 10.30.0.7:50010 (w7)
Hostname: w7
Decommission Status : {status}
Configured Capacity: 500 (500 B)
"""


@pytest.mark.parametrize(
    ("address", "status", "printed"),
    [
        ("10.30.0.7", "Decommissioned", "Decommissioned"),
        ("10.30.0.7", "Decommission in progress", "progress"),
        ("10.30.0.70", "Decommissioned", "Normal"),
        ("10.30.0.8", "Decommissioned", ""),
    ],
)
def test_hopsfs_status_of_one_node_is_read_from_the_report(tmp_path: Path, address, status, printed):
    (tmp_path / "report").write_text(REPORT.format(status=status))
    result = sh(f"{hw.hdfs_status_filter(address)} < report", tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == printed


def fake_report(tmp_path: Path, statuses: list[str]) -> str:
    """A report command that answers the given statuses in turn (the last one forever)."""
    for index, status in enumerate(statuses):
        (tmp_path / f"report{index}").write_text(REPORT.format(status=status))
    last = len(statuses) - 1
    script = tmp_path / "report.sh"
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        n=$(cat calls 2>/dev/null || echo 0); echo $((n + 1)) > calls
        [ "$n" -lt {last} ] || n={last}
        cat report$n
        """)
    )
    script.chmod(0o755)
    return str(script)


def test_removal_waits_for_hopsfs_to_finish(tmp_path: Path):
    report = fake_report(tmp_path, ["Decommission in progress"] * 2 + ["Decommissioned"])
    wait = hw.hdfs_wait("10.30.0.7", minutes=1, report=report, skip=str(tmp_path / "skip"), poll_seconds=0)
    assert sh(wait, tmp_path).returncode == 0
    assert (tmp_path / "calls").read_text().strip() == "3"


def test_removal_gives_up_and_fails_when_hopsfs_does_not_finish(tmp_path: Path):
    report = fake_report(tmp_path, ["Decommission in progress"])
    wait = hw.hdfs_wait("10.30.0.7", minutes=0, report=report, skip=str(tmp_path / "skip"), poll_seconds=0)
    result = sh(wait, tmp_path)
    assert result.returncode == waits.TIMED_OUT
    assert (
        "gave up after 0 s waiting for HopsFS to decommission 10.30.0.7 (the node is kept)" in result.stderr
    )
    (tmp_path / "skip").touch()  # whole-stack teardown: the operator lets it go
    (tmp_path / "calls").unlink()
    assert sh(wait, tmp_path).returncode == 0


def test_removal_fails_when_the_namenode_does_not_answer(tmp_path: Path):
    wait = hw.hdfs_wait("10.30.0.7", minutes=1, report="false", skip=str(tmp_path / "skip"), poll_seconds=0)
    result = sh(wait, tmp_path)
    assert result.returncode == hw.NAMENODE_SILENT  # at once, not after the minute
    assert "the NameNode did not report (exit 3)" in result.stderr


# -- the real program, offline, at two counts -------------------------------------------------------


@functools.cache
def plan(stack: str, *overrides: str) -> Manifest:
    return evaluate(stack, overrides)


def installer_url(stack: str) -> str:
    project, config = read_stack(stack)
    return from_mapping(project.name, stack, sections_of(project.name, config.values)).hopsworks.installer_url


def node_resources(records: list[ResourceRecord], node: str) -> list[ResourceRecord]:
    return [r for r in records if r.name == node or r.name.startswith(f"{node}-")]


def enrolments(m: Manifest) -> dict[str, ResourceRecord]:
    return {r.name: r for r in m.of_type(COMMAND) if r.name.endswith("-enrol")}


def head_install(m: Manifest) -> ResourceRecord:
    (record,) = [r for r in m.of_type(COMMAND) if r.name.endswith("-hopsworks-install")]
    return record


CASES = [
    # (pool key, pool name, kind, base count, new count)
    ("hopsworks.workers.count", "worker", "cpu", 2, 3),
    ("hopsworks.workers.count", "worker", "cpu", 2, 1),
    ("hopsworks.gpu_workers.count", "gpu", "gpu", 0, 1),
    ("hopsworks.gpu_workers.count", "gpu", "gpu", 2, 1),
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(("key", "pool", "kind", "before", "after"), CASES)
def test_changing_a_count_touches_only_that_node(stack, key, pool, kind, before, after):
    old, new = plan(stack, f"{key}={before}"), plan(stack, f"{key}={after}")
    diff = diff_manifests(stack, old, new)
    node = f"deepcube-platform-{stack}-hopsworks-{pool}-{min(before, after)}"
    kind_of_change = "+" if after > before else "-"

    assert [c.name for c in diff.resources if c.kind != kind_of_change] == [], "nothing else changes"
    side = new if after > before else old
    expected = node_resources(side.resources, node)
    assert sorted(c.urn for c in diff.resources) == sorted(r.urn for r in expected)
    types = sorted(r.type for r in expected)
    ports = types.count(PORT)
    assert ports >= 2
    assert types == sorted([INSTANCE, VOLUME, ATTACH, COMMAND] + [PORT] * ports)
    # Every other record is identical, dependencies included (the diff compares inputs and
    # options only); in particular the head install and what it waits for.
    before_urns, after_urns = old.by_urn(), new.by_urn()
    changed = [urn for urn in set(before_urns) & set(after_urns) if before_urns[urn] != after_urns[urn]]
    assert changed == []
    assert head_install(old) == head_install(new)
    assert [c.path for c in diff.outputs] == [
        "hopsworks_gpu_worker_addresses" if kind == "gpu" else "hopsworks_worker_addresses"
    ]

    (enrol,) = [r for r in expected if r.type == COMMAND]
    assert enrol.name == f"{node}-enrol"
    (instance,) = [r for r in expected if r.type == INSTANCE]
    assert instance.urn in enrol.dependencies, "its delete (decommission) runs before the instance goes"
    assert head_install(side).urn in enrol.dependencies
    wid = hw.worker_id(kind, min(before, after))
    assert f"s/__WORKER_ID__/{wid}/" in enrol.inputs["create"]
    assert "dfsadmin -refreshNodes" in enrol.inputs["delete"]
    assert f"head -n 1 {hw.TEMPLATES[kind]} | sed 's/__WORKER_ID__/{wid}/'" in enrol.inputs["delete"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_worker_has_its_own_enrolment_and_the_head_install_knows_none(stack):
    m = plan(stack, "hopsworks.workers.count=2", "hopsworks.gpu_workers.count=2")
    instances = {r.name: r for r in m.of_type(INSTANCE)}
    workers = sorted(n for n in instances if "-hopsworks-worker-" in n or "-hopsworks-gpu-" in n)
    assert len(workers) == 4
    commands = enrolments(m)
    assert sorted(commands) == [f"{n}-enrol" for n in workers]
    install = head_install(m)
    worker_urns = {instances[n].urn for n in workers}
    assert not worker_urns & set(install.dependencies)
    # The installer URL may carry a token: the command is a secret, its fingerprint the expected command's.
    assert install.inputs["create"] == secret_marker(hw.install_command(installer_url(stack)))
    for name, command in commands.items():
        kind: hw.WorkerKind = "gpu" if "-hopsworks-gpu-" in name else "cpu"
        index = int(name.removesuffix("-enrol").rsplit("-", 1)[1])
        create = command.inputs["create"]
        ip = create.split("BatchMode=yes ", 1)[1].split(" ", 1)[0]
        assert create == hw.enrol_command(ip, kind, hw.worker_id(kind, index))
        assert command.inputs["delete"] == hw.decommission_command(ip, kind, hw.worker_id(kind, index))
        assert ip not in install.inputs["create"]


@pytest.mark.parametrize(
    "command",
    [
        hw.install_command(URL),
        hw.enrol_command("10.30.0.7", "cpu", "cpu0"),
        hw.enrol_command("10.30.0.7", "gpu", "gpu0"),
        hw.decommission_command("10.30.0.7", "cpu", "cpu0"),
        hw.decommission_command("10.30.0.7", "gpu", "gpu0"),
    ],
    ids=["install", "enrol-cpu", "enrol-gpu", "decommission-cpu", "decommission-gpu"],
)
def test_whole_commands_parse_as_shell(command, tmp_path: Path):
    result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
