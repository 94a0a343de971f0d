"""The Python requirements of some extras of pyproject.toml (and its build requirements), one per line.

Each image installs one half of the project (`cube`, `semantic`, ...) from a wheelhouse, constrained
by requirements.lock. Its Dockerfile names the extras (`ARG EXTRAS`), this script turns them into the
requirement list in the image's first stage, and the platform-in-a-box fills its wheelhouse from the
same list: pyproject.toml stays the one place where dependencies are written. The project's own base
dependencies come first; an extra that names another (`deepcube-platform[cube]`) brings that one in.
Standard library only, so it runs in a bare base image:

    python3 docker/extra_requirements.py pyproject.toml cube,hub
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


class UnknownExtra(ValueError):
    """An extra that pyproject.toml does not define."""


def _self_extras(requirement: str, project: str) -> list[str] | None:
    """`deepcube-platform[cube,usecases]` -> ['cube', 'usecases']; None for any other requirement."""
    match = re.fullmatch(rf"{re.escape(project)}\[([^\]]+)\]", requirement.replace(" ", ""))
    return match.group(1).split(",") if match else None


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """The base dependencies, then each extra's requirements in order, every one listed once."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    found: list[str] = []
    visited: set[str] = set()

    def add(requirement: str) -> None:
        if requirement not in found:
            found.append(requirement)

    def visit(extra: str) -> None:
        if extra in visited:
            return
        if extra not in optional:
            raise UnknownExtra(f"{pyproject}: no extra {extra!r} (it has: {', '.join(sorted(optional))})")
        visited.add(extra)
        for requirement in optional[extra]:
            nested = _self_extras(requirement, project["name"])
            for item in nested or []:
                visit(item)
            if nested is None:
                add(requirement)

    for requirement in project.get("dependencies", []):
        add(requirement)
    for extra in extras:
        visit(extra)
    return found


def image_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """What an image installs: the extras' requirements, then the project's build requirements
    (`[build-system] requires`), which the image's last step needs to install the project's own
    code without an index."""
    found = requirements(pyproject, extras)
    build = tomllib.loads(pyproject.read_text()).get("build-system", {}).get("requires", [])
    return [*found, *(r for r in build if r not in found)]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: extra_requirements.py PYPROJECT EXTRA[,EXTRA...]", file=sys.stderr)
        return 2
    try:
        lines = image_requirements(Path(argv[1]), [e for e in argv[2].split(",") if e])
    except (OSError, UnknownExtra, tomllib.TOMLDecodeError) as exc:
        print(f"extra_requirements: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
