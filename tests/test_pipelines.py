"""CI files: valid for their forge (real JSON schemas), shell steps clean under shellcheck, and wired
as promised (tests everywhere, plan diff and previews on merge requests, gated deploys on main)."""

from __future__ import annotations

import os
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


def validate(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)], capture_output=True, text=True
    )


def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB_CI.read_text())


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    """Real jobs: not global keywords, not hidden templates; `extends` resolved shallowly."""
    data = gitlab()
    jobs = {}
    for name, job in data.items():
        if name in GITLAB_KEYWORDS or name.startswith("."):
            continue
        merged: dict[str, Any] = {}
        parents = job.get("extends", [])
        for parent in [parents] if isinstance(parents, str) else parents:
            merged.update(data[parent])
        merged.update(job)
        jobs[name] = merged
    return jobs


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
    assert CI_SCRIPTS
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
    assert preview["script"] == ['scripts/ci/pulumi.sh preview "$STACK"']
    deploy = jobs["deploy"]
    assert deploy["rules"][0]["when"] == "manual" and "$CI_DEFAULT_BRANCH" in deploy["rules"][0]["if"]
    assert deploy["allow_failure"] is False
    assert deploy["environment"]["name"] == "$STACK"
    assert deploy["script"] == ['scripts/ci/pulumi.sh up "$STACK"']
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


def pulumi_sh(*args: str, **env: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "OS_", "OVH_", "CREODIAS_"))}
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "ci" / "pulumi.sh"), *args],
        env={**keep, **env},
        capture_output=True,
        text=True,
    )


def test_pulumi_steps_run_only_with_credentials():
    assert pulumi_sh("configured", "ovh").stdout == "false\n"
    skipped = pulumi_sh("preview", "ovh")
    assert skipped.returncode == 0 and "not running pulumi preview" in skipped.stderr
    assert pulumi_sh("up", "ovh").returncode == 1  # a deploy never passes silently
    creds = {
        "PULUMI_BACKEND_URL": "file:///tmp/x",
        "OVH_OS_APPLICATION_CREDENTIAL_ID": "id",
        "OVH_OS_APPLICATION_CREDENTIAL_SECRET": "s",
    }
    assert pulumi_sh("configured", "ovh", **creds).stdout == "true\n"
    assert pulumi_sh("configured", "creodias", **creds).stdout == "false\n"  # per-stack credentials
    assert pulumi_sh("destroy", "ovh").returncode == 2


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
