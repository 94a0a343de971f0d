"""cube_engine: many Earth-observation and weather sources into one analysis-ready Zarr cube.

Library first: `cube_engine.api` holds the functions behind every CLI command.
"""

__version__ = "0.1.0"
