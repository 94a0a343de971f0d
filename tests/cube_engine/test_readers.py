"""One reader per source format, found by the registry: the config's formats are exactly the
readers', `auto` picks by path, and every reader has the protocol's calls."""

from __future__ import annotations

import typing

import pytest

from cube_engine.constants import SourceFormat
from cube_engine.errors import SourceError
from cube_engine.readers import READERS, detect_format, reader_for


def test_the_config_formats_are_the_registered_readers():
    assert set(typing.get_args(SourceFormat)) - {"auto"} == set(READERS)
    for name, reader in READERS.items():
        assert reader.format == name
        for call in ("claims", "discover", "open", "close", "read"):
            assert callable(getattr(reader, call)), (name, call)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b/t2m_20240601.nc", "netcdf"),
        ("s3://bucket/x.NC4", "netcdf"),
        ("ndvi_20240601.tif", "geotiff"),
        ("https://host/dem.TIFF", "geotiff"),
        ("s3://bucket/era5.zarr/", "zarr"),
        ("https://host/no-suffix", "netcdf"),
    ],
)
def test_auto_detects_the_format_from_the_path(path, expected):
    assert detect_format(path) == expected


def test_a_local_folder_is_a_zarr_store(tmp_path):
    assert detect_format(str(tmp_path)) == "zarr"


def test_an_unknown_format_is_a_source_error():
    with pytest.raises(SourceError, match="unknown source format 'grib'"):
        reader_for("grib")
