"""`python -m infra.plan` on faulty input: one literal line on stderr naming what is wrong, exit 2.

Each case edits a temporary copy of `Pulumi.ovh.yaml` (passed with `--config-file`; the real
stack files are never touched) or passes a bad option, runs the CLI as a subprocess and checks
the exit code and the words of the single stderr line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.stack_files import REPO_ROOT

PROJECT = "deepcube-platform"
CIPHERTEXT = "v1:c2VjcmV0LWluc3RhbGxlci11cmw="

Edit = Callable[[dict[str, Any]], None]


def real_config() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "Pulumi.ovh.yaml").read_text())


def edited(edit: Edit) -> str:
    """The real ovh stack file with one semantic edit, as YAML text."""
    data = real_config()
    edit(data["config"])
    return yaml.safe_dump(data, sort_keys=False)


def rename_policy(config: dict[str, Any]) -> None:
    config[f"{PROJECT}:polciy"] = config.pop(f"{PROJECT}:policy", {"gpu_budget": 4})


def gpu_count_true(config: dict[str, Any]) -> None:
    config[f"{PROJECT}:hopsworks"]["gpu_workers"]["count"] = True


def worker_count_string(config: dict[str, Any]) -> None:
    config[f"{PROJECT}:swarm"]["workers"]["count"] = "3"


def container_with_capitals(config: dict[str, Any]) -> None:
    config[f"{PROJECT}:storage"] = {"public_container": "Cubes_Published", "private_containers": ["scratch"]}


def secret_installer_url(config: dict[str, Any]) -> None:
    config[f"{PROJECT}:hopsworks"]["installer_url"] = {"secure": CIPHERTEXT}


def plain_placeholder_url(config: dict[str, Any]) -> None:
    stand_in = f"secret-placeholder:{PROJECT}:hopsworks.installer_url:0123456789ab"
    config[f"{PROJECT}:hopsworks"]["installer_url"] = stand_in


def misspelt_gpu_workers(config: dict[str, Any]) -> None:
    hopsworks = config[f"{PROJECT}:hopsworks"]
    hopsworks["gpu_wrokers"] = hopsworks.pop("gpu_workers")


TAB = "config:\n  deepcube-platform:dns:\n\tdomain: ovh.example.eu\n"
UNCLOSED = "config:\n  deepcube-platform:dns:\n    hosts: [www, api\n  deepcube-platform:policy: {}\n"
DUPLICATE = "config:\n  openstack:region: GRA9\nconfig:\n  openstack:region: GRA11\n"

CASES = [
    # (id, stack file text or None for the real file, CLI arguments, exit code, words on the stderr line)
    ("unknown-section", edited(rename_policy), ["show", "ovh"], 2,
     ["Pulumi.ovh.yaml", "unknown config key", "polciy", "did you mean policy?"]),
    ("unknown-section-set", None, ["show", "ovh", "--set", "polciy={gpu_budget: 1}"], 2,
     ["--set", "polciy", "did you mean policy?"]),
    ("bool-for-int", edited(gpu_count_true), ["show", "ovh"], 2,
     ["expected an integer, found True", "hopsworks.gpu_workers.count", "(in "]),
    ("string-for-int", edited(worker_count_string), ["check", "ovh"], 2,
     ["expected an integer, found '3'", "swarm.workers.count"]),
    ("brackets-kept", edited(container_with_capitals), ["show", "ovh"], 2,
     ["'^[a-z0-9][a-z0-9-]{1,40}$'", "storage.public_container"]),
    ("plain-placeholder-validated", edited(plain_placeholder_url), ["show", "ovh"], 2,
     ["'^https://'", "hopsworks.installer_url"]),
    ("tab", TAB, ["show", "ovh"], 2, ["Pulumi.ovh.yaml:3:1:", "not valid YAML", "'\\t'"]),
    ("unclosed-bracket", UNCLOSED, ["show", "ovh"], 2,
     ["Pulumi.ovh.yaml:4:", "not valid YAML", "expected ',' or ']'", "flow sequence at line 3, column 12"]),
    ("misspelt-key", edited(misspelt_gpu_workers), ["show", "ovh"], 2,
     ["unknown key 'gpu_wrokers' (did you mean 'gpu_workers'?) for hopsworks.gpu_wrokers",
      "missing required key for hopsworks.gpu_workers"]),
    ("empty-file", "# nothing here yet\n", ["show", "ovh"], 2, ["Pulumi.ovh.yaml", "the file is empty"]),
    ("empty-config", "config:\n", ["check", "ovh"], 2, ["Pulumi.ovh.yaml", "'config:' is empty"]),
    ("duplicate-config", DUPLICATE, ["show", "ovh"], 2,
     ["Pulumi.ovh.yaml:3:1:", "duplicate key 'config'", "first at line 1"]),
    ("no-such-revision", None, ["diff", "--base", "nosuchrev"], 2, ["--base nosuchrev", "no such revision"]),
    ("bad-format", None, ["diff", "--format", "xml"], 2, ["--format", "'xml'", "'text', 'markdown', 'json'"]),
]


def run_plan(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("text", "args", "code", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_faulty_input_is_one_literal_line_on_stderr(
    tmp_path: Path, text: str | None, args: list[str], code: int, words: list[str]
) -> None:
    if text is not None:
        copy = tmp_path / "Pulumi.ovh.yaml"
        copy.write_text(text)
        args = [*args, "--config-file", str(copy)]
    result = run_plan(args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("infra.plan: error: ")
    for word in words:
        assert word in lines[0]


def test_a_secret_installer_url_plans_offline_without_showing_its_ciphertext(tmp_path: Path) -> None:
    copy = tmp_path / "Pulumi.ovh.yaml"
    copy.write_text(edited(secret_installer_url))
    result = run_plan(["show", "ovh", "--json", "--config-file", str(copy)])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert CIPHERTEXT not in result.stdout
    assert json.loads(result.stdout)["resource_count"] > 0
