"""The failure drill: every way a user's command can go wrong, run as a real `cube-engine` process.

Each case: the command, the exit code, the words its one stderr line must hold (no traceback, no
warning), and what must not exist afterwards; and for every case, every file of the drill folder
(names and bytes) and every object of the S3 bucket is the same after the command as before —
nothing lost, changed or left half-written, not even a lock file or an empty folder. The few
commands that succeed (exit 0) print one line on stdout and nothing on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import s3fs
import yaml

from semantic.local_postgis import free_port
from tests.cube_engine.conftest import diff_snapshots, tree_snapshot, write_config
from tests.services import MotoS3Server

pytestmark = [pytest.mark.slow, pytest.mark.s3]
BIN = Path(sys.executable).parent
BUCKET = "drill-cubes"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # `cube-engine` arguments; {d}: the drill folder, {s3}: s3://<bucket>
    code: int
    words: tuple[str, ...]  # on the single stderr line (on the single stdout line when code is 0)
    absent: tuple[str, ...] = ()  # drill-folder paths that must not exist afterwards
    env: str = "s3"  # "s3": credentials for the loopback endpoint; "nocreds"; "dead": no endpoint
    seconds: float = 30.0  # a bad output must fail fast, not after retries


CASES: dict[str, Case] = {
    # -- where the output goes --------------------------------------------------------------------
    "output in /proc": Case(
        ("gen", "{d}/cube.yaml", "-o", "/proc/cube.zarr"), 2, ("output.path", "/proc/cube.zarr")
    ),
    "output under a file": Case(
        ("gen", "{d}/cube.yaml", "-o", "{d}/afile/c.zarr"),
        2,
        ("afile is a file, not a folder",),
        ("afile/c.zarr",),
    ),
    "output is a file": Case(
        ("gen", "{d}/cube.yaml", "-o", "{d}/afile"), 2, ("afile is a file, not a folder",)
    ),
    "output is a folder, not a cube": Case(
        ("gen", "{d}/cube.yaml", "-o", "{d}/bad"),
        2,
        ("bad exists and is not a Zarr cube", "refusing to replace"),
    ),
    "s3 output is a prefix, not a cube": Case(
        ("gen", "{d}/cube.yaml", "-o", "{s3}/notes"), 2, ("notes exists and is not a Zarr cube",)
    ),
    "output in a new folder, bad source": Case(
        ("gen", "{d}/missing-file.yaml", "-o", "{d}/new/deeper/c.zarr"), 2, ("no file matches",), ("new",)
    ),
    "s3 output without credentials": Case(
        ("gen", "{d}/cube.yaml", "-o", "{s3}/new.zarr"),
        2,
        ("Unable to locate credentials",),
        env="nocreds",
        seconds=15,
    ),
    "s3 output, endpoint down": Case(
        ("gen", "{d}/cube.yaml", "-o", "{s3}/new.zarr"),
        2,
        ("cannot reach the S3 endpoint",),
        env="dead",
        seconds=10,
    ),
    "s3 output, no such bucket": Case(
        ("gen", "{d}/cube.yaml", "-o", "s3://no-such-bucket/c.zarr"), 2, ("no bucket 'no-such-bucket'",)
    ),
    "s3 append, endpoint down": Case(
        ("append", "{d}/cube.yaml", "-o", "{s3}/cube.zarr"),
        2,
        ("cannot reach the S3 endpoint",),
        env="dead",
        seconds=10,
    ),
    "s3 info without credentials": Case(
        ("info", "{s3}/cube.zarr"), 2, ("Unable to locate credentials",), env="nocreds"
    ),
    # a reader whose endpoint is down: one line, and nothing the S3 client's pending reads print at exit
    "s3 info, endpoint down": Case(
        ("info", "{s3}/cube.zarr"), 2, ("cannot reach the S3 endpoint", "cube.zarr"), env="dead"
    ),
    "s3 validate, endpoint down": Case(
        ("validate", "{s3}/cube.zarr"), 2, ("cannot reach the S3 endpoint", "cube.zarr"), env="dead"
    ),
    "s3 preview, endpoint down": Case(
        ("preview", "{s3}/cube.zarr", "--var", "ndvi", "-o", "{d}/x.png"),
        2,
        ("cannot reach the S3 endpoint", "cube.zarr"),
        ("x.png",),
        env="dead",
    ),
    "rechunk into /proc": Case(
        ("rechunk", "{d}/cube.zarr", "--preset", "timeseries", "-o", "/proc/ts.zarr"),
        2,
        ("--output", "/proc/ts.zarr"),
    ),
    "preview into /proc": Case(
        ("preview", "{d}/cube.zarr", "--var", "ndvi", "-o", "/proc/x.png"), 2, ("--output", "/proc/x.png")
    ),
    "preview under a file": Case(
        ("preview", "{d}/cube.zarr", "--var", "ndvi", "-o", "{d}/afile/x.png"),
        2,
        ("afile is a file, not a folder",),
    ),
    # -- what the cube holds ------------------------------------------------------------------------
    "preview, time out of range": Case(
        ("preview", "{d}/cube.zarr", "--var", "ndvi", "--time", "1990-01-01", "-o", "{d}/x.png"),
        2,
        ("--time: 1990-01-01 is outside the cube's time range 2024-06-01..2024-06-06",),
        ("x.png",),
    ),
    "preview, not a time": Case(
        ("preview", "{d}/cube.zarr", "--var", "ndvi", "--time", "someday", "-o", "{d}/x.png"),
        2,
        ("--time",),
        ("x.png",),
    ),
    "preview, unknown variable": Case(
        ("preview", "{d}/cube.zarr", "--var", "nope", "-o", "{d}/x.png"),
        2,
        ("--var: no variable 'nope'",),
        ("x.png",),
    ),
    "preview, damaged chunk": Case(
        ("preview", "{d}/damaged.zarr", "--var", "ndvi", "-o", "{d}/x.png"),
        2,
        ("ndvi: chunk 0.1.0 cannot be decoded", "validate --deep"),
        ("x.png",),
    ),
    "validate, damaged chunk": Case(
        ("validate", "{d}/damaged.zarr"), 1, ("is not valid", "ndvi: chunk 0.1.0 cannot be decoded")
    ),
    "validate --deep on S3, damaged chunk": Case(
        ("validate", "--deep", "{s3}/damaged.zarr"), 1, ("ndvi: chunk 0.1.0 cannot be decoded",)
    ),
    "validate --quick, damaged chunk": Case(
        ("validate", "--quick", "{d}/damaged.zarr"), 0, ("valid (metadata only",)
    ),
    "info, no cube": Case(("info", "{d}/nosuch.zarr"), 2, ("cannot open cube", "nosuch.zarr")),
    "validate, no cube": Case(("validate", "{d}/nosuch.zarr"), 2, ("cannot open cube", "nosuch.zarr")),
    "append, no cube": Case(
        ("append", "{d}/cube.yaml", "-o", "{d}/nocube.zarr"),
        2,
        ("no cube at", "nocube.zarr"),
        ("nocube.zarr", "nocube.zarr.lock"),
    ),
    "append, nothing new": Case(("append", "{d}/cube.yaml"), 0, ("Nothing to append", "2024-06-06")),
    "s3 append, nothing new": Case(
        ("append", "{d}/cube.yaml", "-o", "{s3}/cube.zarr"), 0, ("Nothing to append",)
    ),
    "rechunk onto itself": Case(
        ("rechunk", "{d}/cube.zarr", "--preset", "timeseries", "-o", "{d}/cube.zarr"),
        2,
        ("--output: must differ",),
    ),
    "rechunk, bad --chunks": Case(
        ("rechunk", "{d}/cube.zarr", "--chunks", "t=x", "-o", "{d}/ts.zarr"), 2, ("--chunks",), ("ts.zarr",)
    ),
    # -- the config -------------------------------------------------------------------------------
    "config file missing": Case(("gen", "{d}/nothere.yaml"), 2, ("cannot read", "nothere.yaml")),
    "config empty": Case(("gen", "{d}/empty.yaml"), 2, ("found nothing (the file is empty)", "empty.yaml")),
    "config not YAML": Case(("gen", "{d}/broken.yaml"), 2, ("not valid YAML at line",)),
    "config key misspelled": Case(
        ("gen", "{d}/typo.yaml"),
        2,
        ("unknown key 'resolutoin' (did you mean 'resolution'?)", "missing required key for grid.resolution"),
    ),
    "config value of the wrong type": Case(
        ("gen", "{d}/type.yaml"),
        2,
        ("expected a number or a list of 2 numbers, found 'fine' for grid.resolution",),
    ),
    "config chunk preset unknown": Case(
        ("gen", "{d}/giant.yaml"),
        2,
        ("expected a preset ('image' or 'timeseries')", "found 'giant' for chunks"),
    ),
    "config error over an existing cube": Case(
        ("gen", "{d}/typo.yaml", "-o", "{d}/cube.zarr"), 2, ("resolutoin",)
    ),
    # -- the sources ------------------------------------------------------------------------------
    "source file missing": Case(
        ("gen", "{d}/missing-file.yaml"), 2, ("source 's2' (sources.2.paths): no file matches",)
    ),
    "source file corrupt": Case(
        ("gen", "{d}/corrupt-source.yaml"), 2, ("source 'meteo' (sources.0): cannot read",)
    ),
    "source variable unknown": Case(("gen", "{d}/unknown-variable.yaml"), 2, ("variable 'tpp' not in",)),
    "source outside the grid": Case(("gen", "{d}/no-overlap.yaml"), 2, ("does not overlap the target grid",)),
    "no data in the time range": Case(
        ("gen", "{d}/no-data.yaml"),
        2,
        ("time: no observation of any source falls between 2030-01-01 and 2030-01-05",),
    ),
    # -- the command line itself --------------------------------------------------------------------
    "usage: option missing": Case(
        ("preview", "{d}/cube.zarr", "-o", "{d}/x.png"),
        2,
        ("Missing option '--var'", "cube-engine preview --help"),
    ),
    "usage: invalid option value": Case(
        ("demo-data", "{d}/more", "--days", "0"), 2, ("Invalid value for '--days'",), ("more",)
    ),
    "usage: unknown command": Case(("generate", "{d}/cube.yaml"), 2, ("No such command 'generate'",)),
    # -- sample data ------------------------------------------------------------------------------
    "demo-data --extend, no sample": Case(
        ("demo-data", "{d}/nosample", "--extend", "2"), 2, ("no sample inputs",), ("nosample",)
    ),
    "demo-data into a file": Case(("demo-data", "{d}/afile"), 2, ("afile is a file",)),
}


def _mutated(folder: Path, name: str, mutate: Callable[[dict], None]) -> None:
    data = yaml.safe_load((folder / "cube.yaml").read_text())
    mutate(data)
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False))


def _environment(kind: str, server: MotoS3Server, home: Path) -> dict[str, str]:
    """A process environment with no AWS configuration but the case's (and no metadata service:
    only 127.0.0.1 is ever contacted)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CUBE_ENGINE_"))}
    env |= {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"}
    if kind == "nocreds":
        return env | {"AWS_ENDPOINT_URL": server.endpoint_url, "AWS_DEFAULT_REGION": server.region}
    s3 = server.environment()
    if kind == "dead":
        return env | s3 | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    return env | s3


@pytest.fixture(scope="module")
def drill(tmp_path_factory, sample_root, s3_server) -> Iterator[tuple[Path, s3fs.S3FileSystem, Path]]:
    """The drill folder (sample links, configs, a cube, a damaged copy, a file) and a bucket holding
    the same cube and a damaged copy."""
    folder = tmp_path_factory.mktemp("drill")
    home = tmp_path_factory.mktemp("home")
    for child in sample_root.iterdir():
        (folder / child.name).symlink_to(child)
    write_config(folder)
    (folder / "afile").write_text("not a folder\n")
    (folder / "empty.yaml").write_text("")
    (folder / "broken.yaml").write_text("sources: [\n  name: a\n grid:\n")
    bad = folder / "bad"
    bad.mkdir()
    (bad / "meteo_20240601.nc").write_bytes(b"CDF\x01 this is not a netcdf file" * 10)
    _mutated(folder, "typo.yaml", lambda d: d["grid"].update(resolutoin=d["grid"].pop("resolution")))
    _mutated(folder, "type.yaml", lambda d: d["grid"].update(resolution="fine"))
    _mutated(folder, "giant.yaml", lambda d: d.update(chunks="giant"))
    _mutated(folder, "missing-file.yaml", lambda d: d["sources"][2].update(paths=["s2/nothing_*.nc"]))
    _mutated(folder, "corrupt-source.yaml", lambda d: d["sources"][0].update(paths=[str(bad / "*.nc")]))
    _mutated(folder, "unknown-variable.yaml", lambda d: d["sources"][0]["variables"][1].update(name="tpp"))
    _mutated(folder, "no-overlap.yaml", lambda d: d["grid"].update(bbox=[40.0, 0.0, 41.0, 1.0]))
    _mutated(folder, "no-data.yaml", lambda d: d.update(time={"start": "2030-01-01", "end": "2030-01-05"}))
    env = _environment("s3", s3_server, home)
    admin = s3fs.S3FileSystem(**s3_server.storage_options())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", s3_server.region)
        admin.mkdir(BUCKET)
    for output in (str(folder / "cube.zarr"), f"s3://{BUCKET}/cube.zarr"):
        done = subprocess.run(
            [str(BIN / "cube-engine"), "gen", str(folder / "cube.yaml"), "-o", output],
            env=env,
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr
    shutil.copytree(folder / "cube.zarr", folder / "damaged.zarr")
    (folder / "damaged.zarr" / "ndvi" / "0.1.0").write_bytes(b"garbage, not a blosc frame")
    admin.put(str(folder / "damaged.zarr"), f"{BUCKET}/damaged.zarr", recursive=True)
    admin.pipe_file(f"{BUCKET}/notes/readme.txt", b"someone's objects, not a cube")
    yield folder, admin, home
    admin.rm(BUCKET, recursive=True)


def _bucket(fs: s3fs.S3FileSystem) -> dict[str, bytes]:
    fs.invalidate_cache()
    return {p: fs.cat_file(p) for p in fs.find(BUCKET)}


@pytest.mark.parametrize("name", list(CASES))
def test_drill(drill, s3_server, name):
    folder, fs, home = drill
    case = CASES[name]
    args = [a.format(d=folder, s3=f"s3://{BUCKET}") for a in case.args]
    files, objects = tree_snapshot(folder), _bucket(fs)
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "cube-engine"), *args],
        env=_environment(case.env, s3_server, home),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started
    assert done.returncode == case.code, done.stderr
    if case.code == 0:
        assert done.stderr == ""
        [line] = done.stdout.strip().splitlines()
    else:
        [line] = done.stderr.strip().splitlines()  # exactly one line: no traceback, no warning
        assert "Traceback" not in line
    for word in case.words:
        assert word in line
    assert seconds < case.seconds
    assert diff_snapshots(files, tree_snapshot(folder)) == []
    assert diff_snapshots(objects, _bucket(fs)) == []
    for path in case.absent:
        assert not (folder / path).exists()
    assert not list(folder.glob("*.lock")) and not list(folder.glob("*.staging-*"))
