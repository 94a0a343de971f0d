"""No remote command waits forever: the wait snippet run for real, and every loop of the real program.

The snippet (`components.waits`) is run with bash against conditions that never hold, hold late,
block, or answer like `cloud-init status --wait` (2: done with recoverable errors, 1: failed). Then
the program is evaluated offline for both stacks and every create/update/delete of every
`command:remote:Command` (secret ones included, read from the unredacted registrations) must hold
no `until`/`while` loop that is not bounded: built by the helper, or run under `timeout`.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from components import hopsworks_commands as hw
from components import swarm, waits
from infra.box.plan import unwrap
from infra.mock_engine import Registration
from infra.offline import evaluate
from tests.infra.test_platform_plan import STACKS

COMMAND = "command:remote:Command"


def bash(script: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a built command as the remote login shell would, with `set -e` as the commands use it."""
    return subprocess.run(
        ["bash", "-c", f"set -e; {script}"], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def counter(tmp_path: Path, succeed_on: int | None, code: int = 1) -> str:
    """A condition counting its calls in `calls`; it exits 0 from call `succeed_on`, else `code`."""
    script = tmp_path / "condition.sh"
    target = succeed_on if succeed_on is not None else 10**9
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(cat {tmp_path}/calls 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {tmp_path}/calls\n"
        f'echo "attempt $n"\n[ "$n" -ge {target} ] || exit {code}\n'
    )
    script.chmod(0o755)
    return str(script)


def calls(tmp_path: Path) -> int:
    return int((tmp_path / "calls").read_text())


# -- the snippet, for real --------------------------------------------------------------------------


def test_a_condition_that_never_holds_gives_up_naming_what_it_waited_for(tmp_path):
    wait = waits.bounded_wait(counter(tmp_path, None), what="the moon to rise", timeout_s=1, interval_s=0)
    started = time.monotonic()
    result = bash(f"{wait}; echo after", tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == waits.TIMED_OUT == 124
    assert "gave up after 1 s waiting for the moon to rise" in result.stderr
    assert "attempt " in result.stderr  # the condition's last words come with it
    assert result.stdout == ""  # nothing after the wait ran, nothing went to stdout
    assert calls(tmp_path) >= 2


def test_a_condition_that_blocks_is_cut_off_at_the_deadline(tmp_path):
    wait = waits.bounded_wait("sleep 60", what="a stuck condition", timeout_s=1)
    started = time.monotonic()
    result = bash(wait, tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == waits.TIMED_OUT
    assert "gave up after 1 s waiting for a stuck condition" in result.stderr


def test_a_condition_that_holds_late_ends_the_wait_and_the_command_goes_on(tmp_path):
    wait = waits.bounded_wait(counter(tmp_path, 3), what="x", timeout_s=30, interval_s=0)
    result = bash(f"{wait}; echo node-id", tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "node-id\n", "")
    assert calls(tmp_path) == 3


def test_a_zero_timeout_still_tries_once(tmp_path):
    wait = waits.bounded_wait(counter(tmp_path, 1), what="x", timeout_s=0)
    assert bash(wait, tmp_path).returncode == 0
    assert calls(tmp_path) == 1


def test_cloud_init_exit_2_is_done_with_a_warning(tmp_path):
    status = counter(tmp_path, None, code=2)
    wait = waits.cloud_init_done(where="10.30.0.7", timeout_s=30, status=status, interval_s=0)
    result = bash(f"{wait}; echo installing", tmp_path)
    assert result.returncode == 0 and result.stdout == "installing\n"
    assert calls(tmp_path) == 1  # not a reason to wait longer
    assert (
        "waiting for cloud-init to finish on 10.30.0.7: warning: cloud-init finished with " in result.stderr
    )
    assert "recoverable errors (exit 2); going on" in result.stderr


def test_cloud_init_exit_1_fails_at_once_and_says_so(tmp_path):
    wait = waits.cloud_init_done(where="this node", timeout_s=30, status=counter(tmp_path, None, code=1))
    started = time.monotonic()
    result = bash(f"{wait}; echo joined", tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode == 1 and result.stdout == ""
    assert "waiting for cloud-init to finish on this node: cloud-init failed (exit 1)" in result.stderr
    assert "attempt 1" in result.stderr
    assert calls(tmp_path) == 1


def test_ssh_failures_are_retried_not_taken_for_cloud_init_answers(tmp_path):
    # ssh exits 255 on its own errors (the node is still booting): retried until cloud-init answers.
    wait = waits.cloud_init_done(where="n", timeout_s=30, status=counter(tmp_path, 3, code=255), interval_s=0)
    assert bash(wait, tmp_path).returncode == 0
    assert calls(tmp_path) == 3


def test_a_wait_that_may_give_up_says_so_and_goes_on(tmp_path):
    wait = waits.bounded_wait("false", what="tasks to stop", timeout_s=0, on_timeout="continue")
    result = bash(f"{wait}; echo removed", tmp_path)
    assert result.returncode == 0 and result.stdout == "removed\n"
    assert "gave up after 0 s waiting for tasks to stop; going on" in result.stderr


def test_nonsense_codes_and_times_are_refused():
    with pytest.raises(ValueError, match="exit code 0 is success"):
        waits.bounded_wait("true", what="x", timeout_s=1, fail={0: "never"})
    with pytest.raises(ValueError, match="either a warning or a failure"):
        waits.bounded_wait("true", what="x", timeout_s=1, warn={2: "a"}, fail={2: "b"})
    with pytest.raises(ValueError, match=">= 0"):
        waits.bounded_wait("true", what="x", timeout_s=-1)


# -- every loop of the real program is bounded --------------------------------------------------------

_SHELL_LOOP = re.compile(r"(?<![\w.-])(?:while|until)\s[^;]*;\s*do\b")
_UNDER_TIMEOUT = re.compile(r"\btimeout\s+(?:-\S+\s+)*\d+[smhd]?\s+(?:ba)?sh\s+-c\s+'")


def _quoted_end(text: str, start: int) -> int:
    """End of the shell word that starts with a single quote at `start` (shlex.quote's `'"'"'` joins)."""
    position = start
    while True:
        close = text.index("'", position + 1)
        if not text.startswith("\"'\"'", close + 1):
            return close + 1
        position = close + 4


def unbounded_loops(script: str) -> list[str]:
    """The `until`/`while` shell loops of a command line that nothing bounds.

    Bounded is a loop built by `components.waits` (its head, with the deadline test before its
    `done`), or any loop inside a `timeout N sh -c '...'` argument. An awk `while (...)` is no shell
    loop (no `; do`) and is not looked at.
    """
    covered = [(m.end() - 1, _quoted_end(script, m.end() - 1)) for m in _UNDER_TIMEOUT.finditer(script)]
    found = []
    for match in _SHELL_LOOP.finditer(script):
        start = match.start()
        if any(low <= start < high for low, high in covered):
            continue
        if script.startswith(waits.LOOP_HEAD, start):
            body = script[start : script.index("; done", start)]
            if waits.DEADLINE_CHECK in body:
                continue
        found.append(script[start : start + 80])
    return found


def test_the_loop_finder_tells_bounded_from_unbounded():
    bounded = waits.bounded_wait("ssh n 'cloud-init status --wait'", what="n", timeout_s=5)
    assert unbounded_loops(bounded) == []
    assert unbounded_loops("timeout 300 sh -c 'while [ -n \"$(x)\" ]; do sleep 5; done' || true") == []
    assert unbounded_loops("awk '{ while ((i = index($0, e)) > 0) $0 = substr($0, i); print }' f") == []
    legacy = [
        "until sudo docker info >/dev/null 2>&1; do sleep 5; done",
        "x; while :; do sleep 1; done",
        "sh -c 'until ssh n true; do sleep 10; done'",
        bounded.replace(waits.DEADLINE_CHECK, "true ||"),
    ]
    for script in legacy:
        assert len(unbounded_loops(script)) == 1, script


def remote_commands(stack: str, *overrides: str) -> dict[str, dict[str, str]]:
    """Every remote command of the plan: name -> {create/update/delete: the command line, unredacted}."""
    recorded: dict[str, Registration] = {}
    evaluate(stack, overrides, recorded=recorded)
    commands = {}
    for reg in recorded.values():
        if reg.type != COMMAND:
            continue
        lines = {key: unwrap(reg.inputs.get(key)) for key in ("create", "update", "delete")}
        commands[reg.name] = {key: line for key, line in lines.items() if line is not None}
    return commands


@pytest.mark.parametrize("stack", STACKS)
def test_every_remote_wait_of_the_real_program_is_bounded(stack):
    commands = remote_commands(stack, "hopsworks.gpu_workers.count=1")
    lines = {f"{name}.{key}": line for name, steps in commands.items() for key, line in steps.items()}
    assert all(isinstance(line, str) for line in lines.values()), "a command line is not readable"
    # Every kind of waiting command is there: swarm init/join/labels/removal, Hopsworks install/enrol.
    assert any(name.endswith("-swarm-init.create") for name in lines)
    assert any(name.endswith("-membership.delete") for name in lines)
    assert any(name.endswith("-hopsworks-install.create") for name in lines)
    assert any(name.endswith("-gpu-0-enrol.create") for name in lines)
    # Every command waits through the helper before it acts, except the one writing the installer key.
    still = {name for name, steps in commands.items() if waits.LOOP_HEAD not in steps["create"]}
    assert still == {f"deepcube-platform-{stack}-hopsworks-installer-key"}
    assert {name: unbounded_loops(line) for name, line in lines.items() if unbounded_loops(line)} == {}


def test_the_builders_wait_through_the_helper():
    """The commands that used to spin forever now carry the helper's loop."""
    for command in (
        swarm.init_command("10.20.0.5"),
        swarm.join_command("T", "10.20.0.5", "10.20.0.9"),
        swarm.join_token_command("worker"),
        swarm.label_command("n1", {"role": "data"}),
        swarm.remove_node_command("n1", manager=True),
        hw.install_command("https://example.eu/x.sh"),
        hw.enrol_command("10.30.0.7", "cpu", "cpu0"),
        hw.decommission_command("10.30.0.7", "gpu", "gpu0"),
    ):
        assert waits.LOOP_HEAD in command and unbounded_loops(command) == [], command
    assert "cloud-init status --wait" in swarm.WAIT_FOR_DOCKER and "|| true" not in swarm.WAIT_FOR_DOCKER
