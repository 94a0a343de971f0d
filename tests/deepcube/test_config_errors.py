"""The one configuration line, on small models: the key path a person finds in the YAML, what is
expected in YAML words, the unknown key first with what it was meant to be, the rest counted."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from deepcube.config_errors import describe_validation_error, in_file, invalid


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    resolution: float | tuple[float, float]


class Root(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid: Grid
    count: int = 1
    mode: Grid | Literal["fast", "slow"] = "fast"
    items: list[Grid] = []
    labels: dict[str, int] = {}


GRID = {"name": "g", "resolution": 0.5}


def line(data: dict[str, Any], **options: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Root.model_validate(data)
    return describe_validation_error(info.value, Root, **options)


def test_an_unknown_key_comes_first_with_did_you_mean_and_the_key_it_leaves_missing():
    assert line({"grid": {"resolutoin": 1, "name": "g"}}) == (
        "Invalid configuration: unknown key 'resolutoin' (did you mean 'resolution'?) for "
        "grid.resolutoin; missing required key for grid.resolution"
    )


def test_an_unknown_key_like_no_other_names_every_missing_sibling():
    assert line({"grid": {"zzz": 1}}) == (
        "Invalid configuration: unknown key 'zzz' for grid.zzz; missing required key for grid.name; "
        "missing required key for grid.resolution"
    )


def test_a_moved_key_says_where_it_lives_now():
    text = line({"grid": {"res": 1, "name": "g"}}, moved_keys={"grid.res": "grid.resolution"})
    assert text == (
        "Invalid configuration: unknown key 'res' (moved to grid.resolution) for grid.res; "
        "missing required key for grid.resolution"
    )


def test_union_member_tags_are_dropped_and_types_said_in_yaml_words():
    text = line({"grid": {"name": "g", "resolution": "fine"}})
    assert text == (
        "Invalid configuration: expected a number or a list of 2 numbers, found 'fine' for grid.resolution"
    )
    assert "float" not in text and "tuple" not in text
    mode = line({"grid": GRID, "mode": "medium"})
    assert (
        mode
        == "Invalid configuration: expected a mapping or one of 'fast' or 'slow', found 'medium' for mode"
    )
    assert "Grid" not in mode and "literal" not in mode


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"grid": GRID, "count": "many"}, "expected an integer, found 'many' for count"),
        ({"grid": GRID, "labels": {"a": "x"}}, "expected an integer, found 'x' for labels.a"),
        ({"grid": GRID, "items": [GRID, {"name": "y"}]}, "missing required key for items.1.resolution"),
        ({"grid": "flat"}, "expected a mapping, found 'flat' for grid"),
        ({}, "missing required key for grid"),
    ],
)
def test_the_path_is_the_yaml_key_path(data, expected):
    assert line(data) == f"Invalid configuration: {expected}"


def test_other_problems_are_counted():
    text = line({"grid": {"resolution": "fine"}, "count": "x"})
    assert text == "Invalid configuration: missing required key for grid.name; and 2 more problems"
    one = line({"grid": {"name": "g", "resolution": "fine"}, "count": "x"})
    assert one.endswith("for grid.resolution; and 1 more problem")


def test_a_domain_hint_replaces_the_type_words():
    text = line({"grid": GRID, "mode": 3}, hints={"mode": "expected 'fast', 'slow' or a grid mapping"})
    assert text == "Invalid configuration: expected 'fast', 'slow' or a grid mapping, found 3 for mode"


def test_the_location_can_name_keys_otherwise():
    text = line({"grid": GRID, "count": 0.5}, location=lambda path: "APP_" + str(path[0]).upper())
    assert text == "Invalid configuration: expected an integer, found 0.5 for APP_COUNT"


def test_the_form_is_written_once_and_a_file_follows_it():
    assert invalid("not a date", "time.start") == "Invalid configuration: not a date for time.start"
    assert invalid("Invalid configuration: kept as it is") == "Invalid configuration: kept as it is"
    assert in_file(invalid("bad", "a.b"), "cube.yaml") == "Invalid configuration: bad for a.b (in cube.yaml)"
