"""Plan diffs: grouping, old → new inputs, hidden secrets, summaries, determinism, git revisions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from infra.manifest import SECRET, Manifest, ResourceRecord
from infra.offline import evaluate
from infra.plan_diff import (
    diff_manifests,
    diff_revision,
    render_json,
    render_markdown,
    render_text,
    resolve_base,
)
from infra.stack_files import REPO_ROOT
from tests.infra.projects import make_project

PROJECT = "proj"
STACK_URN = f"urn:pulumi:dev::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-dev"
NET_TYPE = "deepcube:network:PlatformNetwork"
NET_URN = f"urn:pulumi:dev::{PROJECT}::{NET_TYPE}::dev-net"


def res(
    type_: str, name: str, /, parent: str = NET_URN, secret: tuple[str, ...] = (), **inputs: Any
) -> ResourceRecord:
    parent_type = parent.split("::")[2]
    qualified = type_ if parent == STACK_URN else f"{parent_type}${type_}"
    return ResourceRecord(
        urn=f"urn:pulumi:dev::{PROJECT}::{qualified}::{name}",
        type=type_,
        name=name,
        parent=parent,
        custom=not type_.startswith("deepcube:"),
        provider=None,
        inputs=inputs,
        secret_inputs=sorted(secret),
        dependencies=[],
        property_dependencies={},
        options={},
    )


def component() -> ResourceRecord:
    return res(NET_TYPE, "dev-net", parent=STACK_URN)


def manifest(*records: ResourceRecord, outputs: dict | None = None) -> Manifest:
    return Manifest(PROJECT, "dev", sorted(records, key=lambda r: r.urn), outputs or {})


SUBNET = "openstack:networking/subnet:Subnet"
NETWORK = "openstack:networking/network:Network"


def base_and_new() -> tuple[Manifest, Manifest]:
    old = manifest(
        component(),
        res(SUBNET, "dev-net-data", cidr="10.40.0.0/24", dnsNameservers=["1.1.1.1", "9.9.9.9"]),
        res(NETWORK, "dev-net-old", name="old"),
        res(
            "command:remote:Command",
            "dev-join",
            create="docker swarm join\n--token x\n",
            secret=("connection",),
            connection={"host": "10.0.0.1", "privateKey": SECRET},
            environment={"A": "1"},
        ),
        outputs={"router": "r-1"},
    )
    new = manifest(
        component(),
        res(SUBNET, "dev-net-data", cidr="10.41.0.0/24", dnsNameservers=["1.1.1.1", "8.8.8.8"]),
        res(NETWORK, "dev-net-gpu", name="gpu"),
        res(NETWORK, "top-level", parent=STACK_URN, name="top"),
        res(
            "command:remote:Command",
            "dev-join",
            create="docker swarm join\n--token y\n",
            secret=("connection", "environment"),
            connection={"host": "10.0.0.2", "privateKey": SECRET},
            environment=SECRET,
        ),
        outputs={"router": "r-1", "gpu": "g"},
    )
    return old, new


def test_added_removed_changed_grouped_by_component_with_old_to_new():
    old, new = base_and_new()
    diff = diff_manifests("dev", old, new)
    assert diff.summary() == "dev: +2 ~2 -1"
    text = render_text([diff], "abc123")
    assert text == textwrap.dedent("""\
        == dev (base abc123 → working tree)
          (stack)
        +   openstack:networking/network:Network  top-level
          dev-net  [deepcube:network:PlatformNetwork]
        -   openstack:networking/network:Network  dev-net-old
        ~   command:remote:Command  dev-join
                connection.host: "10.0.0.1" → "10.0.0.2"
                create: text changed
                  @@ -1,2 +1,2 @@
                   docker swarm join
                  ---token x
                  +--token y
                environment: plain → secret (value hidden)
        ~   openstack:networking/subnet:Subnet  dev-net-data
                cidr: "10.40.0.0/24" → "10.41.0.0/24"
                dnsNameservers[1]: "9.9.9.9" → "8.8.8.8"
        +   openstack:networking/network:Network  dev-net-gpu
          outputs
        ~   gpu: (absent) → "g"

        dev: +2 ~2 -1
        """)


def test_secret_values_never_appear_in_any_format():
    old = manifest(component(), res(NETWORK, "dev-a", secret=("description",), description="hunter2-old"))
    new = manifest(component(), res(NETWORK, "dev-a", secret=("description",), description=SECRET))
    diff = diff_manifests("dev", old, new)
    for render in (render_text, render_markdown, render_json):
        output = render([diff], "abc")
        assert "hunter2" not in output
    assert "description: secret changed (value hidden)" in render_text([diff], "abc")
    change = json.loads(render_json([diff], "abc"))["stacks"][0]["resources"][0]["changes"][0]
    assert change == {
        "path": "description",
        "old": SECRET,
        "new": SECRET,
        "old_absent": False,
        "new_absent": False,
        "secret": True,
    }


def test_an_unchanged_secret_is_not_reported_but_a_changed_secrecy_is():
    same = manifest(component(), res(NETWORK, "dev-a", secret=("description",), description=SECRET))
    assert diff_manifests("dev", same, same).empty
    plain = manifest(component(), res(NETWORK, "dev-a", description="x"))
    text = render_text([diff_manifests("dev", same, plain)], "abc")
    assert "description: secret → plain (value hidden)" in text and '"x"' not in text


def test_options_and_provider_changes_are_shown():
    old = manifest(component(), res(NETWORK, "dev-a", name="a"))
    protected = res(NETWORK, "dev-a", name="a")
    protected = ResourceRecord(
        **{**protected.__dict__, "options": {"protect": True}, "provider": "urn:p::id"}
    )
    text = render_text([diff_manifests("dev", old, manifest(component(), protected))], "abc")
    assert "[options].protect: (absent) → true" in text
    assert '[provider]: null → "urn:p::id"' in text


def test_new_and_removed_stacks_diff_against_nothing():
    _, new = base_and_new()
    created = diff_manifests("dev", None, new)
    assert created.summary() == "dev: +5 ~0 -0" and "new stack" in created.note
    assert diff_manifests("dev", new, None).summary() == "dev: +0 ~0 -5"


def test_markdown_has_summaries_and_a_diff_block_per_stack():
    old, new = base_and_new()
    same = diff_manifests("same", old, old)
    markdown = render_markdown([diff_manifests("dev", old, new), same], "abc123")
    assert markdown.startswith(
        "### Offline plan diff (base `abc123`)\n\n"
        "- **dev**: `+2 ~2 -1`\n- **same**: `+0 ~0 -0`\n"
    )
    assert "<details open><summary>dev: +2 ~2 -1</summary>" in markdown
    assert "<details><summary>same: +0 ~0 -0</summary>" in markdown
    assert markdown.count("```diff") == 2


def test_json_is_data_and_every_format_is_deterministic():
    old, new = base_and_new()
    data = json.loads(render_json([diff_manifests("dev", old, new)], "abc"))
    assert data["stacks"][0]["summary"] == {"added": 2, "changed": 2, "removed": 1}
    assert [r["kind"] for r in data["stacks"][0]["resources"]][:2] == ["added", "removed"]
    shuffled_old = Manifest(PROJECT, "dev", list(reversed(old.resources)), old.outputs)
    for render in (render_text, render_markdown, render_json):
        assert render([diff_manifests("dev", old, new)], "x") == render(
            [diff_manifests("dev", shuffled_old, new)], "x"
        )


def run_cli(*args: str, cwd: Path = REPO_ROOT, root: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_cli_diffs_two_manifest_files(tmp_path):
    old, new = base_and_new()
    (tmp_path / "a.json").write_text(old.to_json())
    (tmp_path / "b.json").write_text(new.to_json())
    result = run_cli("diff", "--from", str(tmp_path / "a.json"), "--to", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\ndev: +2 ~2 -1\n")
    changed = run_cli(
        "diff", "--from", str(tmp_path / "a.json"), "--to", str(tmp_path / "b.json"), "--exit-code"
    )
    assert changed.returncode == 1
    missing = run_cli("diff", "--from", str(tmp_path / "nope.json"), "--to", str(tmp_path / "b.json"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"infra.plan: error: {tmp_path / 'nope.json'}: file not found"
    alone = run_cli("diff", "--from", str(tmp_path / "a.json"))
    assert alone.returncode == 2 and "--from and --to go together" in alone.stderr


PROGRAM = """
import pulumi
import pulumi_openstack as openstack
from components.sizes import COUNT

stack = pulumi.get_stack()
for i in range(COUNT):
    openstack.networking.Network(f"{stack}-net-{i}", name=f"{stack}-net-{i}")
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway git repo with this checkout's `infra/` and a tiny program sized by a module."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "infra", root / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "components").mkdir()
    (root / "components" / "__init__.py").write_text("")
    (root / "components" / "sizes.py").write_text("COUNT = 2\n")
    (root / "prog").mkdir()
    (root / "prog" / "__main__.py").write_text(PROGRAM)
    (root / "Pulumi.yaml").write_text("name: proj\nruntime: python\nmain: prog/\n")
    (root / "Pulumi.a.yaml").write_text("config: {}\n")
    (root / "Pulumi.b.yaml").write_text("config: {}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def test_revision_diff_imports_each_trees_own_modules(repo):
    (repo / "components" / "sizes.py").write_text("COUNT = 3\n")  # only the working tree grows
    (repo / "Pulumi.c.yaml").write_text("config: {}\n")  # a new stack file, not committed
    base, diffs = diff_revision(repo, None, [])
    assert base == git(repo, "rev-parse", "HEAD")[:12]
    assert [d.summary() for d in diffs] == ["a: +1 ~0 -0", "b: +1 ~0 -0", "c: +3 ~0 -0"]
    assert [c.name for c in diffs[0].resources] == ["a-net-2"]
    status = git(repo, "status", "--porcelain").splitlines()  # the repo itself is untouched
    assert sorted(line.strip() for line in status) == ["?? Pulumi.c.yaml", "M components/sizes.py"]


def test_cli_revision_diff_in_markdown_and_bad_revisions(repo):
    (repo / "components" / "sizes.py").write_text("COUNT = 1\n")
    result = run_cli("diff", "--base", "HEAD", "a", "--format", "markdown", cwd=repo, root=repo)
    assert result.returncode == 0, result.stderr
    assert (
        "- **a**: `+0 ~0 -1`" in result.stdout
        and "-   openstack:networking/network:Network  a-net-1" in result.stdout
    )
    again = run_cli("diff", "--base", "HEAD", "a", "--format", "markdown", cwd=repo, root=repo)
    assert again.stdout == result.stdout
    bad = run_cli("diff", "--base", "no-such-rev", cwd=repo, root=repo)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_default_base_is_the_merge_base_with_main(repo):
    main_head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "components" / "sizes.py").write_text("COUNT = 5\n")
    git(repo, "commit", "-q", "-am", "grow")
    assert resolve_base(repo, None) == main_head
    assert resolve_base(repo, "HEAD") == git(repo, "rev-parse", "HEAD")


def test_a_re_encrypted_stack_secret_shows_as_changed_without_its_fingerprint(tmp_path):
    program = """
    import pulumi
    import pulumi_openstack as openstack
    openstack.networking.Network("n", name="n", description=pulumi.Config().require_secret("token"))
    """
    sides = []
    for side, ciphertext in (("old", "v1:AAAA"), ("new", "v1:BBBB")):
        root = tmp_path / side
        root.mkdir()
        make_project(root, program, {"proj:token": {"secure": ciphertext}})
        sides.append(evaluate("test", root=root))
    old, new = sides
    assert old.resources[0].inputs["description"] != new.resources[0].inputs["description"]
    text = render_text([diff_manifests("test", old, new)], "abc")
    assert "description: secret changed (value hidden)" in text
    for render in (render_text, render_markdown, render_json):
        output = render([diff_manifests("test", old, new)], "abc")
        assert "<secret:" not in output and "v1:" not in output and "placeholder" not in output
    same = evaluate("test", root=tmp_path / "old")
    assert diff_manifests("test", old, same).empty


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """This checkout's files (committed or not, minus ignored ones) as a new repo's only commit.

    Like a CI job's fresh clone: the base revision is materialised in another folder than the
    working tree, so anything recording where the checkout lives would show up as a change.
    """
    root = tmp_path / "clone"
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clean")
    return root


def test_a_clean_tree_diffs_empty_and_byte_identical_wherever_it_lives(fresh_clone):
    first = run_cli("diff", "--base", "HEAD", "--exit-code", cwd=fresh_clone, root=fresh_clone)
    second = run_cli("diff", "--base", "HEAD", "--exit-code", cwd=fresh_clone, root=fresh_clone)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout
    assert "~" not in first.stdout.split("\n\n")[-1].replace("~0", "")  # every summary says ~0
    manifest = json.loads(run_cli("ovh", "--json", cwd=fresh_clone, root=fresh_clone).stdout)
    builds = [r["inputs"]["build"] for r in manifest["resources"] if r["type"] == "docker:index/image:Image"]
    assert builds, "the ovh stack builds the repository's images"
    for build in builds:
        # Relative to the program's working directory (infra/), where the docker provider runs.
        assert build["context"] == ".."
        assert build["dockerfile"].startswith("../docker/") and build["dockerfile"].endswith("/Dockerfile")
