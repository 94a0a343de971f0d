"""Modules stay small enough to read whole: at most `LIMIT` lines in the program's packages.

A module past the limit usually holds more than the one concern its name says; the fix is to split
it by concern. A module that cannot be split at once goes into `ALLOWED` with the reason: the list
is the to-do list, an entry leaves it once its module is split, and no new large module slips in
unnoticed.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIMIT = 420
PACKAGES = ("cube_engine", "semantic", "infra", "components", "usecases")

ALLOWED: dict[str, str] = {}
"""Modules allowed over `LIMIT` (path relative to the repository, as `/`-separated text) -> why."""


def module_lengths(root: Path, packages: tuple[str, ...]) -> dict[str, int]:
    """Lines of every `.py` module under the packages, by path relative to `root`."""
    lengths: dict[str, int] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if ".venv" in relative.parts or "__pycache__" in relative.parts:
                continue
            lengths[relative.as_posix()] = len(path.read_text(encoding="utf-8").splitlines())
    return lengths


def oversized(lengths: dict[str, int], allowed: dict[str, str], limit: int = LIMIT) -> dict[str, int]:
    """The modules over `limit` lines that `allowed` does not excuse."""
    return {path: lines for path, lines in lengths.items() if lines > limit and path not in allowed}


def stale(lengths: dict[str, int], allowed: dict[str, str], limit: int = LIMIT) -> set[str]:
    """The allowances no longer needed: their module is gone or back within `limit`."""
    return {path for path in allowed if lengths.get(path, 0) <= limit}


def test_no_module_is_over_the_limit_unless_allowed():
    lengths = module_lengths(REPO, PACKAGES)
    assert {"infra/config.py", "infra/policies.py", "components/hopsworks.py"} <= set(lengths)
    assert oversized(lengths, ALLOWED) == {}


def test_every_allowance_says_why_and_is_still_needed():
    assert all(reason.strip() for reason in ALLOWED.values())
    lengths = module_lengths(REPO, PACKAGES)
    assert stale(lengths, ALLOWED) == set()  # a split one leaves the list
    assert all(path.split("/", 1)[0] in PACKAGES and path.endswith(".py") for path in ALLOWED)


def test_the_scan_counts_lines_excuses_only_the_allowed_and_finds_stale_allowances(tmp_path: Path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "at_limit.py").write_text("x = 1\n" * LIMIT, encoding="utf-8")
    (package / "sub" / "over.py").write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    (package / "allowed.py").write_text("x = 1\n" * (LIMIT + 50), encoding="utf-8")
    (package / "notes.txt").write_text("x\n" * (LIMIT + 1), encoding="utf-8")
    lengths = module_lengths(tmp_path, ("pkg",))
    assert lengths == {"pkg/allowed.py": LIMIT + 50, "pkg/at_limit.py": LIMIT, "pkg/sub/over.py": LIMIT + 1}
    assert oversized(lengths, {"pkg/allowed.py": "to be split"}) == {"pkg/sub/over.py": LIMIT + 1}
    allowed = {"pkg/allowed.py": "to be split", "pkg/at_limit.py": "split", "pkg/gone.py": "removed"}
    assert stale(lengths, allowed) == {"pkg/at_limit.py", "pkg/gone.py"}
