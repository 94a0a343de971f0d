"""Every bad input gets ONE line on stderr naming what is at fault, and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semantic.cli import app
from semantic.local_postgis import free_port
from tests.semantic.conftest import drop_cube
from tests.semantic.cubes import make_cube

pytestmark = pytest.mark.postgis


def run_cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("semantic: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def irregular_cube(cubes_dir):
    return make_cube(cubes_dir / "irregular.zarr", irregular=True)


def test_unknown_cube_id(postgis, small_cube, tmp_path):
    assert run_cli("load", small_cube, "--dsn", postgis.dsn, "--cube-id", "known", "-q").exit_code == 0
    line = assert_one_line_error(
        run_cli("mapping", "nope", "--dsn", postgis.dsn, "-o", str(tmp_path)),
        "unknown cube id 'nope'",
        "'known'",
    )
    assert "deepcube-local" not in line
    a_file = tmp_path / "a-file"
    a_file.write_text("kept")
    for unwritable in ("/proc/mapping", str(a_file / "mapping")):
        assert_one_line_error(
            run_cli("mapping", "known", "--dsn", postgis.dsn, "-o", unwritable),
            f"cannot write the mapping to {unwritable}",
        )
    assert a_file.read_text() == "kept"
    query = tmp_path / "q.rq"
    query.write_text("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    assert_one_line_error(
        run_cli("query", str(query), "--dsn", postgis.dsn, "--cube-id", "nope"), "unknown cube id 'nope'"
    )


def test_cube_without_regular_grid(postgis, irregular_cube):
    assert_one_line_error(run_cli("load", irregular_cube, "--dsn", postgis.dsn), "no regular grid", "'lon'")


def test_missing_variable(postgis, small_cube):
    assert_one_line_error(
        run_cli("load", small_cube, "--dsn", postgis.dsn, "--variables", "t2m,nope"),
        "variable 'nope' not in cube",
        "precip, t2m",
        "static (lat, lon) variables are elevation, land_cover",
    )


def test_only_static_variables(postgis, small_cube):
    assert_one_line_error(
        run_cli("load", small_cube, "--dsn", postgis.dsn, "--variables", "elevation"),
        "names only static (lat, lon) variables",
        "precip, t2m",
    )


def test_database_down(postgis, small_cube):
    dsn = postgis.dsn_with(port=free_port())
    line = assert_one_line_error(
        run_cli("load", small_cube, "--dsn", dsn), "cannot connect to PostgreSQL", "Connection refused"
    )
    assert postgis.password not in line


def test_wrong_password(postgis, small_cube):
    line = assert_one_line_error(
        run_cli("load", small_cube, "--dsn", postgis.dsn_with(password="wrong")),
        "password authentication failed",
    )
    assert "wrong" not in line.replace("password authentication", "")


def test_missing_cube_and_bad_options(postgis, small_cube, tmp_path):
    assert_one_line_error(
        run_cli("load", str(tmp_path / "absent.zarr"), "--dsn", postgis.dsn), "absent.zarr: not found"
    )
    assert_one_line_error(
        run_cli("load", small_cube, "--dsn", postgis.dsn, "--time", "2020-01-01"), "expected START/END"
    )
    assert_one_line_error(run_cli("load", small_cube, "--dsn", postgis.dsn, "--bbox", "1,2,3"), "--bbox")
    assert_one_line_error(
        run_cli("load", small_cube, "--dsn", postgis.dsn, "--time", "2030-01-01/2030-02-01"),
        "selects no time step",
    )
    assert_one_line_error(run_cli("load", small_cube, env={"DEEPCUBE_DSN": ""}), "no database given")


def test_dsn_from_environment_and_traceback_opt_in(postgis, small_cube):
    ok = run_cli("load", small_cube, "--cube-id", "fromenv", "-q", env={"DEEPCUBE_DSN": postgis.dsn})
    assert ok.exit_code == 0, ok.output
    assert "loaded cube 'fromenv': 120 cells, 600 observations" in ok.stdout
    assert "static (2-D) variables on the cells: elevation, land_cover" in ok.stdout
    appended = run_cli(
        "load",
        small_cube,
        "--cube-id",
        "fromenv",
        "-q",
        "--time",
        "2020-01-05/",
        env={"DEEPCUBE_DSN": postgis.dsn},
    )
    assert appended.stdout.startswith("appended cube 'fromenv': 120 cells, 120 observations"), appended.stdout
    assert "kept on the cells (an append does not rewrite them): elevation, land_cover" in appended.stdout
    loud = run_cli("--traceback", "load", small_cube, "--dsn", postgis.dsn, "--variables", "nope")
    assert loud.exit_code != 0 and type(loud.exception).__name__ == "MissingVariableError"


def test_query_input_is_checked_before_the_database(postgis, tmp_path):
    dead = postgis.dsn_with(port=free_port())  # any database work would fail with "cannot connect"
    query = tmp_path / "bad.rq"
    query.write_text("SELEC ?x WHERE { ?x ?p ?o }")
    assert_one_line_error(
        run_cli("query", str(query), "--dsn", dead, "--cube-id", "any"), "invalid SPARQL in", "bad.rq"
    )
    query.write_text("SELECT ?x WHERE { ?x nope:p ?o }")
    assert_one_line_error(run_cli("query", str(query), "--dsn", dead, "--cube-id", "any"), "nope")
    good = tmp_path / "good.rq"
    good.write_text("SELECT ?x WHERE { ?x dc:row ?r }")
    assert_one_line_error(
        run_cli("query", str(good), "--dsn", dead, "--cube-id", "any", "--bbox", "1,2,3"), "--bbox"
    )
    assert_one_line_error(
        run_cli("query", str(good), "--dsn", dead, "--cube-id", "any", "--time", "2020"), "expected START/END"
    )
    assert_one_line_error(run_cli("query", str(good), "--dsn", dead), "--cube-id", "--endpoint")
    assert_one_line_error(
        run_cli("query", str(tmp_path / "absent.rq"), "--dsn", dead, "--cube-id", "x"), "absent.rq"
    )
    assert_one_line_error(
        run_cli("query", str(good), "--dsn", dead, "--cube-id", "x", "--format", "xml"), "--format"
    )


def test_query_too_large_and_unknown_variables(postgis, small_cube, tmp_path):
    assert run_cli("load", small_cube, "--dsn", postgis.dsn, "--cube-id", "sized", "-q").exit_code == 0
    query = tmp_path / "all.rq"
    query.write_text("SELECT * WHERE { ?s ?p ?o }")
    base = ("query", str(query), "--dsn", postgis.dsn, "--cube-id", "sized")
    line = assert_one_line_error(
        run_cli(*base, "--max-triples", "1000"),
        "would materialise",
        "over the local limit of 1,000 (--max-triples)",
        "--bbox",
        "--time",
        "--variables",
        "--endpoint",
    )
    assert "Observation triples" in line
    assert_one_line_error(
        run_cli(*base, "--variables", "t2m,nope"), "--variables 'nope' not in cube 'sized'", "elevation"
    )
    assert_one_line_error(run_cli(*base, "--bbox", "0,0,1,1"), "does not intersect cube 'sized'")


def test_first_load_with_a_time_range_says_loaded(postgis, small_cube, engine):
    """A --time load of a cube the database does not hold yet creates it: `loaded`, not `appended`."""
    first = run_cli(
        "load", small_cube, "--dsn", postgis.dsn, "--cube-id", "ranged", "-q", "--time", "2020-01-02/"
    )
    assert first.exit_code == 0 and first.stdout.startswith("loaded cube 'ranged': 120 cells, 480 obs"), (
        first.output
    )
    again = run_cli("load", small_cube, "--dsn", postgis.dsn, "--cube-id", "ranged", "-q")
    assert again.stdout.startswith("replaced cube 'ranged': 120 cells, 600 observations"), again.output
    drop_cube(engine, "ranged")


def test_a_dead_s3_endpoint_is_one_line_to_the_end(tmp_path):
    """The real CLI in its own process, as a user runs it (progress bars on): stderr is the error line
    and nothing else, not even what the S3 client leaves behind at interpreter exit."""
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEEPCUBE_"))}
    env |= {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
    }
    dead_database = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "semantic"),
            "load",
            "s3://bucket/cube.zarr",
            "--dsn",
            dead_database,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert done.stderr == line + "\n", done.stderr  # one line: no blank line, no "Exception ignored"
    assert line.startswith("semantic: error: ") and f"cannot reach the S3 endpoint {endpoint}" in line
    assert "s3://bucket/cube.zarr" in line
