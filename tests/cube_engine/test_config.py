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


@pytest.mark.parametrize(
    ("data", "expected", "absent"),
    [
        (
            {**BASE, "grid": {"bbox": [0, 0, 1, 1], "resolutoin": 0.1}},
            "unknown key 'resolutoin' (did you mean 'resolution'?) for grid.resolutoin; "
            "missing required key for grid.resolution",
            "",
        ),
        (
            _with("grid.resolution", "fine"),
            "expected a number or a list of 2 numbers, found 'fine' for grid.resolution",
            "resolution.float",
        ),
        (
            _with("chunks", "giant"),
            "expected a preset ('image' or 'timeseries') or a mapping such as {time: 8, y: 256, x: 256}, "
            "found 'giant' for chunks",
            "ChunkConfig",
        ),
        (_with("chunks", {"preset": "big"}), "expected one of 'image' or 'timeseries', found 'big'", ""),
    ],
)
def test_messages_say_what_is_expected_in_yaml_words(data, expected, absent):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    text = str(info.value)
    assert expected in text
    if absent:
        assert absent not in text


def test_two_problems_are_both_counted():
    data = _with("time.frequency", "fortnightly") | {"workers": 0}
    with pytest.raises(ConfigError, match="and 1 more problem"):
        parse_config(data)


def test_a_preset_name_is_enough_for_chunks():
    assert parse_config(_with("chunks", "timeseries")).chunks.preset == "timeseries"


def test_time_end_is_optional():
    data = json.loads(json.dumps(BASE))
    del data["time"]["end"]
    assert parse_config(data).time.end is None


@pytest.mark.parametrize(
    ("text", "expected"), [("", "found nothing (the file is empty)"), ("- a\n", "found a list")]
)
def test_a_file_without_a_mapping_is_named(tmp_path, text, expected):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value) and str(path) in str(info.value)
