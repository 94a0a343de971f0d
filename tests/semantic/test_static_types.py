"""Static layers keep their dtype: each numpy dtype becomes the SQL type that holds it, travels through
the binary COPY in that type's wire format, and reaches RDF with the matching XSD datatype."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from rdflib import Literal, URIRef

from semantic import api, dtypes
from semantic.errors import CubeError
from tests.semantic.conftest import fetch
from tests.semantic.cubes import land_cover, make_cube

LAYERS = {
    "f64": (np.float64, "double precision"),
    "i8": (np.int8, "smallint"),
    "u16": (np.uint16, "integer"),
    "i32": (np.int32, "integer"),
    "i64": (np.int64, "bigint"),
    "flag": (np.bool_, "boolean"),
}


def test_column_types_hold_every_value_of_the_dtype():
    assert [dtypes.column_type("v", np.dtype(d)).sql for d, _ in LAYERS.values()] == [
        sql for _, sql in LAYERS.values()
    ]
    assert dtypes.column_type("v", np.dtype(np.uint8)).sql == "smallint"
    assert dtypes.column_type("v", np.dtype(np.uint32)).sql == "bigint"
    with pytest.raises(CubeError, match="static variable 'v' has dtype uint64"):
        dtypes.column_type("v", np.dtype(np.uint64))
    assert not dtypes.is_supported(np.dtype("U3"))


@pytest.mark.postgis
def test_each_dtype_round_trips_through_copy_and_the_mapping(postgis, engine, cubes_dir):
    path = make_cube(cubes_dir / "typed.zarr", height=3, width=4, times=2, static=False)
    row, col = np.arange(3)[:, None], np.arange(4)[None, :]
    base = row * 4 + col
    arrays = {
        "f64": np.where(base == 5, np.nan, base + 0.123456789012),
        "i8": (base - 6).astype(np.int8),
        "u16": (base * 5000).astype(np.uint16),
        "i32": (base * -100_000).astype(np.int32),
        "i64": (base * 10**12).astype(np.int64),
        "flag": base % 3 == 0,
    }
    layers = {
        name: xr.Variable(("lat", "lon"), arrays[name].astype(dtype), attrs={"units": "1"})
        for name, (dtype, _) in LAYERS.items()
    }
    xr.Dataset(layers).to_zarr(path, mode="a", consolidated=True)

    report = api.load(path, postgis.dsn, cube_id="typed")
    assert report.static == sorted(LAYERS)  # data variables come back in name order
    types = dict(
        fetch(
            engine,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'cells_typed'",
        )
    )
    assert {name: types[name] for name in LAYERS} == {name: sql for name, (_, sql) in LAYERS.items()}
    got = fetch(engine, f"SELECT {', '.join(LAYERS)} FROM deepcube.cells_typed ORDER BY cell_id")
    want = [
        tuple(None if isinstance(v, float) and np.isnan(v) else v.item() for v in values)
        for values in zip(
            *(arrays[name].astype(dtype).ravel() for name, (dtype, _) in LAYERS.items()), strict=True
        )
    ]
    assert got == want

    graph = api.materialise("typed", postgis.dsn)
    cv = "https://w3id.org/deepcube/cube/typed/def#"
    cell = URIRef("https://w3id.org/deepcube/cube/typed/cell/6")
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert graph.value(cell, URIRef(f"{cv}flag")) == Literal("true", datatype=URIRef(f"{xsd}boolean"))
    assert graph.value(cell, URIRef(f"{cv}i64")).toPython() == 6 * 10**12
    assert graph.value(cell, URIRef(f"{cv}i8")).toPython() == 0
    assert graph.value(cell, URIRef(f"{cv}f64")).toPython() == pytest.approx(6.123456789012, rel=1e-15)
    assert graph.value(URIRef("https://w3id.org/deepcube/cube/typed/cell/5"), URIRef(f"{cv}f64")) is None


def test_float_layers_holding_whole_numbers_become_integer_columns():
    nan = np.nan
    assert dtypes.integral_type([np.array([[1.0, 2.0], [nan, 6.0]], np.float32)]) is dtypes.SMALLINT
    assert dtypes.integral_type([np.array([1.0]), np.array([70_000.0])]) is dtypes.INTEGER
    assert dtypes.integral_type([np.array([-3e9, nan])]) is dtypes.BIGINT
    assert dtypes.integral_type([np.array([1.0, 2.5])]) is None
    assert dtypes.integral_type([np.array([1.0]), np.array([np.inf])]) is None
    assert dtypes.integral_type([np.array([nan, nan])]) is None  # nothing to go by: stays a float
    assert dtypes.integral_type([np.array([2.0**60])]) is None  # beyond what float64 holds exactly
    assert dtypes.integral_type([np.array([1, 2], np.int16)]) is None  # not a float layer


@pytest.mark.postgis
def test_float_classes_load_as_integers_with_nan_as_null(postgis, engine, cubes_dir):
    path = make_cube(cubes_dir / "floatclasses.zarr", height=6, width=7, times=1, land_cover_dtype="float32")
    api.load(path, postgis.dsn, cube_id="floatclasses")
    assert fetch(
        engine,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'cells_floatclasses' AND column_name IN ('elevation', 'land_cover') ORDER BY 1",
    ) == [("elevation", "real"), ("land_cover", "smallint")]
    rows, cols = np.divmod(np.arange(42), 7)
    want = [None if np.isnan(v) else int(v) for v in land_cover(rows, cols, "float32")]
    assert [
        r[0] for r in fetch(engine, "SELECT land_cover FROM deepcube.cells_floatclasses ORDER BY cell_id")
    ] == want
    assert 0 < want.count(None) < 42
    graph = api.materialise("floatclasses", postgis.dsn)
    cv = URIRef("https://w3id.org/deepcube/cube/floatclasses/def#land_cover")
    three = Literal("3", datatype=URIRef("http://www.w3.org/2001/XMLSchema#integer"))
    assert len(list(graph.subjects(cv, three))) == want.count(3) > 0
