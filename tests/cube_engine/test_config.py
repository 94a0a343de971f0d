"""Config model: schema, normalisation and one-line errors naming the key."""

from __future__ import annotations

import json

import pytest
import yaml

from cube_engine.config import config_schema, load_config, parse_config
from cube_engine.errors import ConfigError

BASE = {
    "sources": [{"name": "a", "paths": ["a/*.nc"], "variables": [{"name": "v"}]}],
    "grid": {"crs": "EPSG:4326", "bbox": [0, 0, 1, 1], "resolution": 0.1},
    "time": {"start": "2024-01-01", "end": "2024-01-05"},
    "output": {"path": "cube.zarr"},
}


def _with(path: str, value):
    data = json.loads(json.dumps(BASE))
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    node[keys[-1]] = value
    return data


def test_schema_forbids_extra_keys_everywhere():
    schema = config_schema()
    assert schema["additionalProperties"] is False
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values() if "properties" in d)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    config = load_config(path)
    assert config.sources[0].paths == [str(tmp_path / "a/*.nc")]
    assert config.output.path == str(tmp_path / "cube.zarr")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with("sources.0.variables.0.resamplng", "mode"),
            "Invalid configuration: unknown key 'resamplng' (did you mean 'resampling'?) for "
            "sources.0.variables.0.resamplng",
        ),
        (_with("grid.resolution", -1), "for grid.resolution"),
        (_with("grid.crs", "EPSG:999999"), "unknown CRS 'EPSG:999999' for grid.crs"),
        (_with("time.frequency", "fortnightly"), "unknown frequency 'fortnightly'"),
        (_with("sources.0.resampling", "cubic"), "for sources.0.resampling"),
        ({k: v for k, v in BASE.items() if k != "grid"}, "missing required key for grid"),
    ],
)
def test_errors_are_one_line_and_name_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    text = str(info.value)
    assert text.startswith("Invalid configuration: ")
    assert message in text
    assert "\n" not in text
