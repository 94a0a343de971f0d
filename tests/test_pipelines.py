"""CI files: valid for their forge (real JSON schemas), shell steps clean under shellcheck, and wired
as promised (tests everywhere, plan diff and previews on merge requests, gated deploys on main);
every job that runs pulumi has a Docker daemon and its deploy key in an ssh-agent, and the scripts
that provide them do what they say when run for real."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.plan_diff import stacks_in
from infra.stack_files import REPO_ROOT

GITLAB_CI = REPO_ROOT / ".gitlab-ci.yml"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
CI_SCRIPTS = sorted((REPO_ROOT / "scripts" / "ci").glob("*.sh"))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
GITLAB_KEYWORDS = {"workflow", "stages", "default", "variables", "include"}
# Every pulumi run: the deploy key in an agent, then the job's Docker daemon, then pulumi.
PULUMI_WRAPPERS = "scripts/ci/ssh-agent.sh scripts/ci/docker-env.sh"


def validate(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)], capture_output=True, text=True
    )


def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB_CI.read_text())


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends` merge: hashes merge key by key, anything else (lists too) is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(data: dict[str, Any], name: str) -> dict[str, Any]:
    job = data[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _deep_merge(merged, _resolve(data, parent))
    return _deep_merge(merged, {k: v for k, v in job.items() if k != "extends"})


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    """Real jobs: not global keywords, not hidden templates; `extends` resolved at every level."""
    data = gitlab()
    return {
        name: _resolve(data, name)
        for name in data
        if name not in GITLAB_KEYWORDS and not name.startswith(".")
    }


def workflow(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def ci_workflow() -> dict[str, Any]:
    return workflow(REPO_ROOT / ".github" / "workflows" / "ci.yml")


def test_gitlab_ci_is_valid_for_gitlab():
    result = validate("vendor.gitlab-ci", GITLAB_CI)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_github_workflows_are_valid_for_github(path):
    result = validate("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validators_do_reject_broken_files(tmp_path):
    broken_gitlab = tmp_path / ".gitlab-ci.yml"
    broken_gitlab.write_text("test:\n  script: 3\n  when: sometimes\n")
    assert validate("vendor.gitlab-ci", broken_gitlab).returncode != 0
    broken_workflow = tmp_path / "ci.yml"
    broken_workflow.write_text("on: push\njobs:\n  a:\n    steps: []\n")  # no runs-on
    assert validate("vendor.github-workflows", broken_workflow).returncode != 0


def shell_steps() -> list[tuple[str, str]]:
    """(label, script) for every GitLab script line block and every GitHub `run` step."""
    steps = []
    for name, job in gitlab().items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key) or []
            flat = [line for item in lines for line in (item if isinstance(item, list) else [item])]
            if flat:
                steps.append((f"gitlab {name}.{key}", "\n".join(flat)))
    for path in WORKFLOWS:
        for job_name, job in workflow(path)["jobs"].items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    steps.append((f"{path.name} {job_name}.steps[{index}]", step["run"]))
    return steps


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    assert found, "shellcheck is missing: apt-get install -y shellcheck (scripts/bootstrap installs it)"
    return found


def test_inline_shell_steps_pass_shellcheck(tmp_path):
    steps = shell_steps()
    assert len(steps) >= 10
    files = []
    for index, (label, script) in enumerate(steps):
        path = tmp_path / f"step{index}.sh"
        path.write_text(f"#!/usr/bin/env bash\n# {label}\nset -euo pipefail\n{script}\n")
        files.append(str(path))
    result = subprocess.run([shellcheck(), "--shell=bash", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ci_scripts_pass_shellcheck_and_are_executable():
    assert {"ssh-agent.sh", "docker-env.sh", "deploy-tools.sh", "pulumi.sh"} <= {p.name for p in CI_SCRIPTS}
    for path in CI_SCRIPTS:
        assert os.access(path, os.X_OK), f"{path.name} is not executable"
    result = subprocess.run([shellcheck(), *map(str, CI_SCRIPTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_run_steps_take_no_expressions_inline():
    """`${{ }}` inside `run` is a script-injection risk; values travel through `env` instead."""
    for label, script in shell_steps():
        assert "${{" not in script, label


def test_gitlab_runs_tests_plan_diff_previews_and_gated_deploys():
    jobs = gitlab_jobs()
    assert "./scripts/test" in " ".join(jobs["test"]["script"])
    assert "scripts/ci/policy-check.sh" in jobs["policy-check"]["script"]
    diff = jobs["plan-diff"]
    assert diff["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert "artifacts/plan-diff.md" in diff["artifacts"]["paths"]
    assert any("$CI_MERGE_REQUEST_DIFF_BASE_SHA" in line for line in diff["script"])
    preview = jobs["preview"]
    assert (
        "merge_request_event" in preview["rules"][0]["if"]
        and "PULUMI_ACCESS_TOKEN" in preview["rules"][0]["if"]
    )
    assert preview["script"] == [f'{PULUMI_WRAPPERS} scripts/ci/pulumi.sh preview "$STACK"']
    deploy = jobs["deploy"]
    assert deploy["rules"][0]["when"] == "manual" and "$CI_DEFAULT_BRANCH" in deploy["rules"][0]["if"]
    assert deploy["allow_failure"] is False
    assert deploy["environment"]["name"] == "$STACK"
    assert deploy["script"] == [f'{PULUMI_WRAPPERS} scripts/ci/pulumi.sh up "$STACK"']
    assert deploy["interruptible"] is False, "a cancelled pulumi up leaves the stack locked mid-update"
    matrix_stacks = sorted(deploy["parallel"]["matrix"][0]["STACK"])
    assert matrix_stacks == stacks_in(REPO_ROOT), "the stack matrix must list every Pulumi.<stack>.yaml"


def test_github_runs_tests_plan_diff_previews_and_gated_deploys():
    data = ci_workflow()
    assert set(data["on"]) == {"pull_request", "push"}
    jobs = data["jobs"]
    assert any("./scripts/test" in step.get("run", "") for step in jobs["test"]["steps"])
    diff = jobs["plan-diff"]
    assert diff["if"] == "github.event_name == 'pull_request'"
    assert diff["permissions"]["pull-requests"] == "write"
    assert diff["steps"][0]["with"]["fetch-depth"] == 0
    assert any("gh pr comment" in step.get("run", "") for step in diff["steps"])
    preview = jobs["preview"]
    assert "pull_request" in preview["if"]
    assert any('pulumi.sh preview "$STACK"' in step.get("run", "") for step in preview["steps"])
    deploy = jobs["deploy"]
    assert "refs/heads/main" in deploy["if"] and deploy["environment"] == "${{ matrix.stack }}"
    assert set(deploy["needs"]) == {"test", "policy-check"}
    assert sorted(deploy["strategy"]["matrix"]["stack"]) == stacks_in(REPO_ROOT)
    assert sorted(i["stack"] for i in preview["strategy"]["matrix"]["include"]) == stacks_in(REPO_ROOT)


# -- every pulumi run has a Docker daemon and the deploy key ----------------------------------------

PULUMI_RUN = re.compile(r"scripts/ci/pulumi\.sh (preview|up)\b")
DIND_IMAGE = re.compile(r"^docker:(\d+)\.(\d+)\.(\d+)-dind$")


def assert_wrapped(command: str, label: str) -> None:
    """pulumi runs inside ssh-agent.sh (key loaded first), inside docker-env.sh (daemon ready)."""
    words = shlex.split(command)
    assert words[:3] == [*shlex.split(PULUMI_WRAPPERS), "scripts/ci/pulumi.sh"], label


def test_gitlab_pulumi_jobs_get_dind_over_tls_tools_and_the_deploy_key():
    jobs = {
        name: job
        for name, job in gitlab_jobs().items()
        if any(PULUMI_RUN.search(line) for line in job.get("script", []))
    }
    assert {"preview", "deploy"} <= set(jobs)
    for name, job in jobs.items():
        dind = [
            s if isinstance(s, dict) else {"name": s}
            for s in job.get("services", [])
            if DIND_IMAGE.match(s["name"] if isinstance(s, dict) else s)
        ]
        assert len(dind) == 1, f"{name}: needs one pinned docker:X.Y.Z-dind service"
        major = int(DIND_IMAGE.match(dind[0]["name"]).group(1))
        # Docker 29 refuses API < 1.44; the job's Debian bookworm docker CLI speaks 1.41.
        assert major < 29, f"{name}: {dind[0]['name']} would refuse the job's docker CLI"
        alias = dind[0].get("alias", "docker")
        variables = {**gitlab()["variables"], **job["variables"]}
        certdir = variables["DOCKER_TLS_CERTDIR"]
        assert certdir, f"{name}: an empty DOCKER_TLS_CERTDIR turns TLS off"
        assert variables["DOCKER_HOST"] == f"tcp://{alias}:2376", name  # 2376 is dind's TLS port
        assert variables["DOCKER_TLS_VERIFY"] == "1", name
        cert_path = re.sub(r"\$\{?DOCKER_TLS_CERTDIR\}?", certdir, variables["DOCKER_CERT_PATH"])
        assert cert_path == f"{certdir}/client", name  # where dind writes the client certificates
        assert job["before_script"][0] == "scripts/ci/deploy-tools.sh", name
        for line in job["script"]:
            if PULUMI_RUN.search(line):
                assert_wrapped(line, name)


def test_github_pulumi_jobs_use_the_runner_daemon_tools_and_the_deploy_key():
    jobs = ci_workflow()["jobs"]
    pulumi_jobs = {
        name: job
        for name, job in jobs.items()
        if any(PULUMI_RUN.search(step.get("run", "")) for step in job.get("steps", []))
    }
    assert {"preview", "deploy"} <= set(pulumi_jobs)
    for name, job in pulumi_jobs.items():
        # The runner's own daemon builds the images; a job container would not see it.
        assert re.fullmatch(r"ubuntu-\d\d\.\d\d", job["runs-on"]), f"{name}: pin the runner image"
        assert "container" not in job, name
        assert "secrets" in job["env"]["DEPLOY_SSH_PRIVATE_KEY"], name
        runs = [step.get("run", "") for step in job["steps"]]
        tools = runs.index("scripts/ci/deploy-tools.sh")
        for index, run in enumerate(runs):
            if PULUMI_RUN.search(run):
                assert tools < index, f"{name}: ssh and docker must be there before pulumi runs"
                assert_wrapped(run, name)
            if "pulumi.sh configured" in run:
                # Outside the agent the key check always fails and previews would never run.
                assert "scripts/ci/ssh-agent.sh scripts/ci/pulumi.sh configured" in run, name
    assert "DEPLOY_REGISTRY_PASSWORD" in jobs["deploy"]["env"]


# -- scripts/ci/ssh-agent.sh, for real ----------------------------------------------------------------


def ssh_tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: apt-get install -y openssh-client (scripts/bootstrap installs it)"
    return found


@pytest.fixture
def deploy_key(tmp_path) -> tuple[Path, str]:
    """A throwaway ED25519 key without passphrase, and its SHA256 fingerprint."""
    key = tmp_path / "keys" / "deploy"
    key.parent.mkdir()
    subprocess.run(
        [ssh_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "ci-test", "-f", str(key)], check=True
    )
    listing = subprocess.run(
        [ssh_tool("ssh-keygen"), "-l", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
    )
    return key, listing.stdout.split()[1]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No caller agent, an empty HOME and TMPDIR to catch any file left behind."""
    for folder in ("home", "tmp"):
        (tmp_path / folder).mkdir(exist_ok=True)
    drop = ("SSH_", "DEPLOY_", "PULUMI_", "OS_", "OVH_", "CREODIAS_", "DOCKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"), **extra}


def ssh_agent_sh(env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    # A leaked agent keeps the output pipes open: the timeout turns that hang into a failure.
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "ci" / "ssh-agent.sh"), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def agent_alive(pid: int) -> bool:
    """True while the process runs; an ended agent nobody reaped yet is a zombie, not alive."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def key_forms(key: Path) -> dict[str, str]:
    text = key.read_text()
    return {
        "text": text,
        "file": str(key),  # a GitLab variable of type File holds a path
        "base64": base64.b64encode(text.encode()).decode(),  # what GitLab can mask
        "crlf": text.replace("\n", "\r\n").rstrip("\r\n"),  # pasted on Windows, final newline stripped
    }


@pytest.mark.parametrize("form", ["text", "file", "base64", "crlf"])
def test_ssh_agent_loads_the_deploy_key_and_leaves_nothing_behind(tmp_path, deploy_key, form):
    key, fingerprint = deploy_key
    secret_line = key.read_text().splitlines()[1]
    env = clean_env(tmp_path, DEPLOY_SSH_PRIVATE_KEY=key_forms(key)[form])
    probe = (
        'echo "sock=$SSH_AUTH_SOCK pid=$SSH_AGENT_PID"; ssh-add -l; '
        'env | grep -c "^DEPLOY_SSH_PRIVATE_KEY=" || true'
    )
    result = ssh_agent_sh(env, "sh", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert fingerprint in result.stdout, result.stdout  # the agent holds exactly this key
    assert result.stdout.rstrip().endswith("\n0"), "the key must not reach the command's environment"
    assert secret_line not in result.stdout + result.stderr
    sock, pid = re.search(r"^sock=(\S+) pid=(\d+)$", result.stdout, re.M).groups()
    assert sock.startswith(str(tmp_path / "tmp"))
    # Afterwards: the agent process has ended, and neither a key file nor the socket is left.
    assert not agent_alive(int(pid)), "the agent outlived the command, key and all"
    after = subprocess.run(
        [ssh_tool("ssh-add"), "-l"], env={**env, "SSH_AUTH_SOCK": sock}, capture_output=True, timeout=30
    )
    assert after.returncode == 2, "the agent still answers after the command ended"
    assert not any((tmp_path / "tmp").iterdir()) and not any((tmp_path / "home").iterdir())


def test_ssh_agent_passes_the_exit_status_and_stops_on_failure(tmp_path, deploy_key):
    key, _ = deploy_key
    env = clean_env(tmp_path, DEPLOY_SSH_PRIVATE_KEY=key.read_text())
    assert ssh_agent_sh(env, "sh", "-c", "exit 7").returncode == 7
    assert not any((tmp_path / "tmp").iterdir())


def test_ssh_agent_refuses_a_bad_key_without_echoing_it(tmp_path):
    marker = tmp_path / "ran"
    env = clean_env(tmp_path, DEPLOY_SSH_PRIVATE_KEY="not-a-key-but-a-secret-value")
    result = ssh_agent_sh(env, "touch", str(marker))
    assert result.returncode == 1 and not marker.exists()
    assert "not-a-key-but-a-secret-value" not in result.stdout + result.stderr
    assert "DEPLOY_SSH_PRIVATE_KEY" in result.stderr
    assert not any((tmp_path / "tmp").iterdir())


def test_ssh_agent_without_a_key_runs_the_command_with_the_callers_agent(tmp_path):
    env = clean_env(tmp_path, SSH_AUTH_SOCK="/run/user/caller/agent.sock")
    result = ssh_agent_sh(env, "sh", "-c", 'echo "$SSH_AUTH_SOCK"')
    assert result.returncode == 0 and result.stdout == "/run/user/caller/agent.sock\n"
    assert "DEPLOY_SSH_PRIVATE_KEY is not set" in result.stderr


# -- scripts/ci/pulumi.sh ------------------------------------------------------------------------------

CREDS = {
    "PULUMI_BACKEND_URL": "file:///tmp/x",
    "OVH_OS_APPLICATION_CREDENTIAL_ID": "id",
    "OVH_OS_APPLICATION_CREDENTIAL_SECRET": "s",
}


def pulumi_sh(*args: str, **env: str) -> subprocess.CompletedProcess:
    drop = ("PULUMI_", "OS_", "OVH_", "CREODIAS_", "SSH_", "DEPLOY_", "DOCKER_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "ci" / "pulumi.sh"), *args],
        env={**keep, **env},
        capture_output=True,
        text=True,
    )


def test_pulumi_steps_run_only_with_credentials(tmp_path, deploy_key):
    assert pulumi_sh("configured", "ovh").stdout == "false\n"
    skipped = pulumi_sh("preview", "ovh")
    assert skipped.returncode == 0 and "not running pulumi preview" in skipped.stderr
    assert pulumi_sh("up", "ovh").returncode == 1  # a deploy never passes silently
    # Backend and cloud credentials, but no agent key: the swarm's provider could not connect.
    assert pulumi_sh("configured", "ovh", **CREDS).stdout == "false\n"
    key, _ = deploy_key
    env = clean_env(tmp_path, DEPLOY_SSH_PRIVATE_KEY=key.read_text())
    script = str(REPO_ROOT / "scripts" / "ci" / "pulumi.sh")
    assert ssh_agent_sh({**env, **CREDS}, script, "configured", "ovh").stdout == "true\n"
    assert ssh_agent_sh({**env, **CREDS}, script, "configured", "creodias").stdout == "false\n"  # per stack
    assert pulumi_sh("destroy", "ovh").returncode == 2


FAKE_PULUMI = """#!/bin/sh
# Stands in for the Pulumi CLI: records its arguments, its environment and the stack file it is given.
printf '%s\\n' "$@" > "$LOG/args"
env > "$LOG/env"
while [ "$#" -gt 0 ]; do
  if [ "$1" = --config-file ]; then cp "$2" "$LOG/stack.yaml"; fi
  shift
done
"""


def run_fake_pulumi(tmp_path: Path, key: Path, **docker_env: str) -> tuple[list[str], str]:
    log = tmp_path / "log"
    bin_dir = tmp_path / "bin"
    log.mkdir()
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    env = clean_env(tmp_path, DEPLOY_SSH_PRIVATE_KEY=key.read_text(), LOG=str(log), **CREDS, **docker_env)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    script = str(REPO_ROOT / "scripts" / "ci" / "pulumi.sh")
    result = ssh_agent_sh(env, script, "up", "ovh")
    assert result.returncode == 0, result.stderr
    return (log / "args").read_text().splitlines(), (log / "env").read_text()


def test_pulumi_gets_a_tls_daemon_as_provider_config_not_as_environment(tmp_path, deploy_key):
    """DOCKER_CERT_PATH in pulumi's environment becomes the cert_path of every docker provider,
    and the swarm's ssh:// provider would then dial TLS: it must reach only the image builder."""
    stack_file = REPO_ROOT / "Pulumi.ovh.yaml"
    before = stack_file.read_bytes()
    args, env = run_fake_pulumi(
        tmp_path,
        deploy_key[0],
        DOCKER_HOST="tcp://docker:2376",
        DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH="/certs/client",
    )
    assert args[:2] == ["up", "--yes"]
    configs = [args[i + 1] for i, arg in enumerate(args) if arg == "--config"]
    assert configs == ["docker:host=tcp://docker:2376", "docker:certPath=/certs/client"]
    assert "\nDOCKER_CERT_PATH=" not in env and "\nDOCKER_TLS_VERIFY=" not in env
    # The values are saved into a copy of the stack file, removed afterwards; the real one is untouched.
    copy = Path(args[args.index("--config-file") + 1])
    assert (tmp_path / "log" / "stack.yaml").read_bytes() == before
    assert not copy.exists() and stack_file.read_bytes() == before


def test_pulumi_on_a_local_daemon_gets_no_docker_config(tmp_path, deploy_key):
    args, _ = run_fake_pulumi(tmp_path, deploy_key[0])
    assert "--config" not in args and "--config-file" not in args


# -- scripts/ci/docker-env.sh and deploy-tools.sh, against stand-in commands --------------------------

FAKE_DOCKER = """#!/bin/sh
# Stands in for the docker CLI: `version` fails until the daemon is "up" (READY_AFTER calls).
echo "$*" >> "$LOG/calls"
case "$1" in
  version)
    n=$(( $(cat "$LOG/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$LOG/count"
    [ "$n" -ge "$READY_AFTER" ] ;;
  login) cat > "$LOG/password"; echo "$DOCKER_CONFIG" > "$LOG/login-config"; [ -d "$DOCKER_CONFIG" ] ;;
esac
"""


def docker_env_sh(tmp_path: Path, *command: str, **extra: str) -> subprocess.CompletedProcess:
    log = tmp_path / "log"
    bin_dir = tmp_path / "bin"
    log.mkdir(exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    env = clean_env(tmp_path, LOG=str(log), DOCKER_HOST="tcp://docker:2376", **extra)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    script = str(REPO_ROOT / "scripts" / "ci" / "docker-env.sh")
    return subprocess.run([script, *command], env=env, capture_output=True, text=True, timeout=60)


def test_docker_env_waits_for_the_daemon_and_logs_in_to_a_throwaway_config(tmp_path):
    probe = 'echo "$DOCKER_CONFIG"; env | grep -c "^DEPLOY_REGISTRY_PASSWORD=" || true'
    result = docker_env_sh(
        tmp_path,
        "sh",
        "-c",
        probe,
        READY_AFTER="2",  # dind answers on the second try
        DEPLOY_REGISTRY_SERVER="registry.example.org",
        DEPLOY_REGISTRY_USER="ci-bot",
        DEPLOY_REGISTRY_PASSWORD="registry-secret-value",
    )
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "log" / "calls").read_text().splitlines()
    assert calls == ["version", "version", "login --username ci-bot --password-stdin registry.example.org"]
    assert (tmp_path / "log" / "password").read_text() == "registry-secret-value"  # through stdin only
    config_dir, password_in_env = result.stdout.split()
    assert (tmp_path / "log" / "login-config").read_text().strip() == config_dir
    assert password_in_env == "0"
    assert not Path(config_dir).exists(), "the registry credentials outlived the command"


def test_docker_env_fails_when_no_daemon_answers(tmp_path):
    marker = tmp_path / "ran"
    result = docker_env_sh(tmp_path, "touch", str(marker), READY_AFTER="999", DOCKER_WAIT_SECONDS="0")
    assert result.returncode == 1 and not marker.exists()
    assert "no Docker daemon at tcp://docker:2376" in result.stderr


def run_deploy_tools(tmp_path: Path, present: list[str]) -> str:
    """deploy-tools.sh on a PATH holding only `present` (stand-ins) and a recording apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("bash", "env", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for tool in present:
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    for tool in ("apt-get", "sudo"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(REPO_ROOT / "scripts" / "ci" / "deploy-tools.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    calls = tmp_path / "calls"
    return calls.read_text() if calls.exists() else ""


def test_deploy_tools_installs_only_what_is_missing(tmp_path):
    calls = run_deploy_tools(tmp_path / "bare", [])
    install = [line for line in calls.splitlines() if " install " in line]
    assert len(install) == 1 and install[0].split()[-2:] == ["openssh-client", "docker.io"]
    assert run_deploy_tools(tmp_path / "ready", ["ssh", "ssh-agent", "ssh-add", "docker"]) == ""


def test_plan_diff_script_writes_markdown_and_json(tmp_path):
    out = tmp_path / "artifacts"
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "ci" / "plan-diff.sh"), "HEAD", str(out)],
        env={**os.environ, "PY": sys.executable},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "plan-diff.md").read_text().startswith("### Offline plan diff (base `")
    assert (out / "plan-diff.json").read_text().startswith("{")
