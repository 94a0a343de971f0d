"""The README's `semantic` block runs as written, in order, the way a new user runs it: each line in
bash, in an empty folder standing for a fresh clone's work tree, with the virtualenv's tools on
PATH and what a line exports (`eval "$(semantic postgis start)"`) kept for the next lines, as one
shell session would. Only the line marked *platform only* (a SPARQL endpoint of the deployed
platform) is not run, and it is the only one marked.

The sample cube the block reads is made by `cube-engine demo-data` and `gen`, as in the README's
`cube-engine` block, with the 20 days that block ends up with, on a quarter of its area (the part
around the centre that the example queries ask about), so the whole run takes about half a minute.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from semantic.local_postgis import temporary_root

pytestmark = [pytest.mark.slow, pytest.mark.postgis]
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECTION = "## Knowledge graph: `semantic`"
PLATFORM_ONLY = "# platform only"
SAMPLE_BBOX = [10.5, 45.5, 11.5, 46.5]  # the centre quarter of the sample's 10-12 E, 45-47 N
SAMPLE_CELLS = 100 * 100  # SAMPLE_BBOX on the sample's 0.01 degree grid
MAPPING_FILES = ("ontology.ttl", "mapping.r2rml.ttl", "ontop.properties")


def readme_block() -> list[str]:
    """The lines of the first bash block of the README's `semantic` section."""
    section = (REPO / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def _what(line: str) -> str:
    """A line's command: `semantic <verb>` or the shell word it starts with."""
    words = shlex.split(line, comments=True)
    return f"semantic {words[1]}" if words[0] == "semantic" else words[0]


def test_the_readme_block_is_the_whole_workflow():
    lines = readme_block()
    assert [_what(line) for line in lines] == [
        "eval",
        "semantic load",
        "semantic load",
        "semantic mapping",
        "semantic query",
        "cp",
        "semantic query",
        "semantic query",
        "semantic query",
        "semantic postgis",
    ]
    assert lines[0].startswith('eval "$(semantic postgis start)"')
    assert lines[-1].startswith("semantic postgis stop")
    [marked] = [line for line in lines if PLATFORM_ONLY in line]
    assert "--endpoint https://" in marked  # the one line that needs the deployed platform


def _sample_cube(clone: Path, env: dict[str, str]) -> None:
    """out/sample/cube.zarr through `cube-engine demo-data` and `gen`, on SAMPLE_BBOX."""
    sample = clone / "out" / "sample"
    for command, edit in (
        (["cube-engine", "demo-data", str(sample), "--days", "20"], True),
        (["cube-engine", "gen", str(sample / "cube.yaml")], False),
    ):
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
        if edit:
            config = yaml.safe_load((sample / "cube.yaml").read_text())
            config["grid"]["bbox"] = SAMPLE_BBOX
            (sample / "cube.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _run(
    line: str, clone: Path, env: dict[str, str], state: Path
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run one README line in bash; return its outcome and the environment it leaves (its exports)."""
    script = f"{line}\nstatus=$?\nenv -0 > {shlex.quote(str(state))}\nexit $status\n"
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=300
    )
    after = dict(item.split("=", 1) for item in state.read_text().split("\0") if "=" in item)
    return done, after


def _postgres_processes(data_dir: Path) -> list[int]:
    """Ids of running processes whose command line names `data_dir` (the cluster's server)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(data_dir) in command:
            found.append(int(proc.name))
    return found


def _check_outcome(what: str, line: str, done: subprocess.CompletedProcess, clone: Path) -> None:
    """What each kind of line must have done, beyond exiting 0."""
    out = done.stdout
    if what == "semantic load":
        first = "appended" if "--time" in line else "loaded"  # nothing was there before the first
        assert out.startswith(f"{first} cube 'sample': {SAMPLE_CELLS} cells, "), out
    elif what == "semantic mapping":
        for name in MAPPING_FILES:
            assert (clone / "mapping" / name).stat().st_size > 0, name
        queries = sorted((clone / "mapping" / "queries").glob("*.rq"))
        assert queries and queries[0].name == "01_bbox_time_threshold.rq"
        written = sorted(str(p.relative_to(clone)) for p in (clone / "mapping").rglob("*") if p.is_file())
        assert sorted(out.split()) == written  # one line per file written, nothing else
    elif what == "cp":
        assert (clone / "my.rq").read_text() == (
            clone / "mapping/queries/01_bbox_time_threshold.rq"
        ).read_text()
    elif "--explain" in line:
        assert "triples to materialise" in out and "SELECT cell_id" in out, out
    elif "--format csv" in line:
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows, out
        assert {row["time"][:10] for row in rows} <= {"2024-06-01", "2024-06-02", "2024-06-03"}
        for row in rows:  # every cell touches --bbox 10.5,45.5,11,46
            points = [pair.split() for pair in row["wkt"].removeprefix("POLYGON((").rstrip(")").split(",")]
            lons, lats = [float(x) for x, _ in points], [float(y) for _, y in points]
            assert min(lons) <= 11 and max(lons) >= 10.5 and min(lats) <= 46 and max(lats) >= 45.5, row
    elif "--format table" in line:
        shown = re.search(r"first (\d+) of (\d+) rows", out)
        assert shown and int(shown[1]) == 20 and int(shown[2]) > 20, out
        assert out.count("│ https://w3id.org/d") == 20, out  # a row per cell IRI (cut to the column)


def test_readme_block_runs_as_written(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    temporary = temporary_root("deepcube-readme-")  # $TMPDIR of the session: its own cluster folder
    cluster = temporary / "deepcube-postgis"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUBE_ENGINE_", "DEEPCUBE_", "AWS_"))}
    env |= {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TMPDIR": str(temporary)}
    state = tmp_path / "environment"
    try:
        _sample_cube(clone, env)
        for line in readme_block():
            if PLATFORM_ONLY in line:
                continue
            what = _what(line)
            done, env = _run(line, clone, env, state)
            assert done.returncode == 0, (line, done.stderr)
            if what == "eval":  # `eval` of an empty output exits 0 too: the DSN must work
                with psycopg.connect(env["DEEPCUBE_DSN"], connect_timeout=10) as conn:
                    assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
                assert (cluster / "cluster.json").exists()
            elif what == "semantic postgis":
                assert done.stdout.strip() == f"stopped; removed {cluster}"
            else:
                _check_outcome(what, line, done, clone)
        assert not cluster.exists()
        assert _postgres_processes(cluster) == []
        assert sorted(p.name for p in clone.iterdir()) == ["mapping", "my.rq", "out"]
    finally:
        if (cluster / "cluster.json").exists():
            subprocess.run([str(BIN / "semantic"), "postgis", "stop", "--dir", str(cluster)], timeout=120)
        shutil.rmtree(temporary, ignore_errors=True)
