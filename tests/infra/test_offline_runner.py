"""The offline runner: engine URNs, duplicate and invoke checks, secret redaction, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.manifest import is_secret
from infra.mock_engine import engine_urn
from infra.offline import PlanError, evaluate
from infra.stack_files import REPO_ROOT, StackFileError, read_stack
from tests.infra.projects import make_project

NESTED_PROGRAM = """
import pulumi
import pulumi_openstack as openstack

class Outer(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("test:outer:Outer", name, None, None)
        self.inner = Inner(f"{name}-inner", pulumi.ResourceOptions(parent=self))
        self.register_outputs({})

class Inner(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("test:inner:Inner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.net = openstack.networking.Network(f"{name}-net", name="n", opts=child)
        self.register_outputs({})

outer = Outer("top")
openstack.networking.Network("loose", name="loose")
"""


def test_engine_urn_rule_chains_all_ancestor_types_but_not_the_stack():
    stack_urn = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    outer = engine_urn("s", "p", stack_urn, "a:b:Outer", "o")
    assert outer == "urn:pulumi:s::p::a:b:Outer::o"
    inner = engine_urn("s", "p", outer, "a:b:Inner", "i")
    assert inner == "urn:pulumi:s::p::a:b:Outer$a:b:Inner::i"
    leaf = engine_urn("s", "p", inner, "x:y:Z", "z")
    assert leaf == "urn:pulumi:s::p::a:b:Outer$a:b:Inner$x:y:Z::z"


def test_nested_components_get_engine_urns(tmp_path):
    manifest = evaluate("test", root=make_project(tmp_path, NESTED_PROGRAM))
    urns = {record.name: record.urn for record in manifest.resources}
    assert urns["top"] == "urn:pulumi:test::proj::test:outer:Outer::top"
    assert urns["top-inner"] == "urn:pulumi:test::proj::test:outer:Outer$test:inner:Inner::top-inner"
    assert urns["top-inner-net"] == (
        "urn:pulumi:test::proj::test:outer:Outer$test:inner:Inner"
        "$openstack:networking/network:Network::top-inner-net"
    )
    assert urns["loose"] == "urn:pulumi:test::proj::openstack:networking/network:Network::loose"
    by_urn = manifest.by_urn()
    assert by_urn[urns["top-inner-net"]].parent == urns["top-inner"]
    assert by_urn[urns["top"]].parent == "urn:pulumi:test::proj::pulumi:pulumi:Stack::proj-test"


def test_duplicate_resource_names_are_rejected(tmp_path):
    program = """
    import pulumi_openstack as openstack
    openstack.networking.Network("same", name="a")
    openstack.networking.Network("same", name="b")
    """
    with pytest.raises(PlanError, match=r"duplicate resource URN .*::same"):
        evaluate("test", root=make_project(tmp_path, program))


def test_unmocked_invokes_fail_the_plan(tmp_path):
    program = """
    import pulumi
    import pulumi_openstack as openstack
    image = openstack.images.get_image_output(name="Ubuntu 22.04")
    openstack.networking.Network("uses-image", name=image.id)
    """
    with pytest.raises(PlanError, match="openstack:images/getImage:getImage has no offline answer"):
        evaluate("test", root=make_project(tmp_path, program))


def test_secrets_are_redacted_wherever_they_flow(tmp_path):
    program = """
    import pulumi
    import pulumi_openstack as openstack
    import pulumi_random as random
    config = pulumi.Config()
    token = config.require_secret("token")
    openstack.networking.Network("from-config", name="n", description=token)
    password = random.RandomPassword("pw", length=20)
    openstack.networking.Network("from-output", name="m", description=password.result)
    pulumi.export("token", token)
    pulumi.export("plain", config.require("greeting"))
    """
    project = make_project(tmp_path, program, {"proj:token": {"secure": "v1:AAAABBBBCCCC"}})
    manifest = evaluate("test", root=project)
    records = {record.name: record for record in manifest.resources}
    assert is_secret(records["from-config"].inputs["description"])
    assert records["from-config"].secret_inputs == ["description"]
    assert is_secret(records["from-output"].inputs["description"])
    assert records["from-output"].inputs["name"] == "m"
    assert manifest.outputs["plain"] == "hello" and is_secret(manifest.outputs["token"])
    assert manifest.outputs["token"] == records["from-config"].inputs["description"]
    text = manifest.to_json()
    assert "secret-placeholder" not in text
    assert records["pw"].inputs["length"] == 20


def test_additional_secret_outputs_become_secrets_downstream(tmp_path):
    program = """
    import pulumi
    import pulumi_command as command
    import pulumi_openstack as openstack
    token = pulumi.Config().require_secret("token")
    marked = pulumi.ResourceOptions(additional_secret_outputs=["stdout", "environment"])
    cmd = command.local.Command("c", create="echo hi", environment={"T": token}, opts=marked)
    openstack.networking.Network("from-stdout", name="a", description=cmd.stdout)
    openstack.networking.Network("from-create", name="b", description=cmd.create)
    openstack.networking.Network("from-env", name="c", description=cmd.environment["T"])
    openstack.networking.Network("from-token", name="d", description=token)
    """
    project = make_project(tmp_path, program, {"proj:token": {"secure": "v1:AAAABBBBCCCC"}})
    records = {record.name: record for record in evaluate("test", root=project).resources}
    assert records["c"].options["additional_secret_outputs"] == ["environment", "stdout"]
    assert is_secret(records["from-stdout"].inputs["description"])
    assert records["from-create"].inputs["description"] == "echo hi"
    # An output that was a secret already keeps its value: the same marker as its source.
    assert records["from-env"].inputs["description"] == records["from-token"].inputs["description"]


def test_a_failed_plan_leaves_nothing_behind_for_the_next(tmp_path):
    good = """
    import pulumi
    import pulumi_openstack as openstack
    import pulumi_random as random
    password = random.RandomPassword("pw", length=20)
    openstack.networking.Network("n", name="n", description=password.result)
    pulumi.export("pw", password.result)
    """
    bad = """
    import pulumi_openstack as openstack
    image = openstack.images.get_image_output(name="Ubuntu 22.04")
    for i in range(5):
        openstack.networking.Network(f"uses-image-{i}", name=image.id)
    """
    folders = {name: tmp_path / name for name in ("good", "bad", "again")}
    for folder in folders.values():
        folder.mkdir()
    first = evaluate("test", root=make_project(folders["good"], good))
    with pytest.raises(PlanError, match="has no offline answer"):
        evaluate("test", root=make_project(folders["bad"], bad))
    again = evaluate("test", root=make_project(folders["again"], good))
    assert again.to_json() == first.to_json()
    assert [r.name for r in again.resources] == ["n", "pw"] and is_secret(again.outputs["pw"])


def test_project_defaults_and_overrides_reach_the_program(tmp_path):
    program = """
    import pulumi
    import pulumi_openstack as openstack
    sizes = pulumi.Config().require_object("sizes")
    for name, count in sorted(sizes.items()):
        for i in range(count):
            openstack.networking.Network(f"{name}-{i}", name=f"{name}-{i}")
    """
    project = make_project(tmp_path, program)
    assert len(evaluate("test", root=project).resources) == 5
    grown = evaluate("test", ["sizes.small=3"], root=project)
    assert sorted(r.name for r in grown.resources if r.name.startswith("small")) == [
        "small-0",
        "small-1",
        "small-2",
    ]
    with pytest.raises(StackFileError, match="no config key 'nope'"):
        evaluate("test", ["nope.x=1"], root=project)


def run_plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


def test_json_manifest_is_byte_identical_across_processes():
    first = run_plan("ovh", "--json")
    second = run_plan("ovh", "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    manifest = json.loads(first.stdout)
    assert manifest["stack"] == "ovh"
    urns = [resource["urn"] for resource in manifest["resources"]]
    assert urns == sorted(urns) and len(urns) == manifest["resource_count"] > 0


def test_text_plan_shows_tree_and_type_counts():
    result = run_plan("creodias")
    assert result.returncode == 0, result.stderr
    assert "stack creodias" in result.stdout
    assert "openstack:networking/subnet:Subnet" in result.stdout
    assert "total" in result.stdout


def test_plan_errors_are_one_line_with_exit_code_2():
    missing = run_plan("nostack")
    assert missing.returncode == 2
    expected = f"infra.plan: error: Pulumi.nostack.yaml: file not found in {REPO_ROOT}"
    assert missing.stderr.strip().splitlines() == [expected]
    bad_key = run_plan("ovh", "--set", "nosuch.count=1")
    assert bad_key.returncode == 2
    assert "nosuch" in bad_key.stderr and len(bad_key.stderr.strip().splitlines()) == 1


def test_declared_secrets_without_a_value_become_secret_placeholders(tmp_path):
    program = """
    import pulumi
    import pulumi_openstack as openstack
    openstack.networking.Network("n", name="n", description=pulumi.Config().require_secret("api_key"))
    """
    project = make_project(tmp_path, program)
    with (project / "Pulumi.yaml").open("a") as fh:
        fh.write("  api_key:\n    type: string\n    secret: true\n")
    manifest = evaluate("test", root=project)
    record = manifest.resources[0]
    assert is_secret(record.inputs["description"])
    assert record.secret_inputs == ["description"]


def test_the_program_runs_in_its_own_folder_like_under_the_pulumi_cli(tmp_path, monkeypatch):
    program = """
    import os
    import pulumi
    import pulumi_openstack as openstack
    openstack.networking.Network("n", name=os.path.basename(os.getcwd()))
    openstack.networking.Network("root", name=pulumi.get_root_directory())
    """
    project = make_project(tmp_path, program)  # main: prog/
    monkeypatch.chdir(tmp_path)
    records = {record.name: record for record in evaluate("test", root=project).resources}
    assert records["n"].inputs["name"] == "prog"
    assert records["root"].inputs["name"] == str(project.resolve())  # where Pulumi.yaml is
    assert Path.cwd() == tmp_path  # restored afterwards


def write_stack(tmp_path: Path, text: str) -> Path:
    project = make_project(tmp_path, "import pulumi\n")
    (project / "Pulumi.test.yaml").write_text(text)
    return project


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "config:\n  proj:sizes:\n    small: 1\n    small: 2\n",
            "Pulumi.test.yaml:4:5: not valid YAML: duplicate key 'small' (first at line 3)",
        ),
        (
            "config:\n  proj:greeting: [hi\n",
            "Pulumi.test.yaml:3:1: not valid YAML: expected ',' or ']', but got '<stream end>' "
            "(while parsing a flow sequence at line 2, column 18)",
        ),
        ("", "Pulumi.test.yaml: the file is empty (expected a 'config:' mapping of this stack's values)"),
        ("config:\n# all commented out\n", "Pulumi.test.yaml: 'config:' is empty"),
        (
            "confg:\n  proj:greeting: hi\n",
            "Pulumi.test.yaml: unknown top-level key confg (did you mean config?)",
        ),
        (
            "config:\n  proj:greting: hi\n",
            "Pulumi.test.yaml: unknown config key proj:greting (did you mean greeting?)",
        ),
        ("config: [a, b]\n", "Pulumi.test.yaml: 'config' must be a mapping of keys to values"),
    ],
)
def test_stack_file_faults_name_the_file_and_where(tmp_path, text, message):
    project = write_stack(tmp_path, text)
    with pytest.raises(StackFileError) as info:
        read_stack("test", project, known_keys=("colour",))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_known_keys_allow_declared_keys_secrets_and_other_namespaces(tmp_path):
    text = (
        "config:\n  proj:greeting: hi\n  proj:colour: blue\n  proj:api_token:\n    secure: v1:AAAA\n"
        "  openstack:region: GRA9\n"
    )
    root = write_stack(tmp_path, text)
    _, config = read_stack("test", root, known_keys=("colour",))
    assert config.values["proj:colour"] == "blue" and "proj:api_token" in config.secret_keys
    copy = tmp_path / "elsewhere.yaml"
    copy.write_text("config:\n  proj:greeting: hello from a copy\n")
    _, from_copy = read_stack("test", root, config_file=copy)
    assert from_copy.values["proj:greeting"] == "hello from a copy"


def test_text_view_keeps_square_brackets_in_names():
    from rich.console import Console

    from infra.manifest import Manifest, ResourceRecord
    from infra.plan_view import plan_view

    record = ResourceRecord(
        urn="urn:pulumi:s::p::test:index:Thing::net[a-z]",
        type="test:index:Thing",
        name="net[a-z]",
        parent=None,
        custom=True,
        provider=None,
        inputs={},
        secret_inputs=[],
        dependencies=[],
        property_dependencies={},
        options={},
    )
    console = Console(width=120, record=True)
    console.print(plan_view(Manifest("p", "s[b]", [record], {})))
    text = console.export_text()
    assert "net[a-z]" in text and "stack s[b]" in text
