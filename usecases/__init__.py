"""Use cases on the platform's cubes: each a notebook kept as text (jupytext percent format) plus the
small, tested functions it calls, so the same analysis runs in JupyterHub, headless in CI, or as
`python -m`. `usecases.runtime` holds what they share: opening a cube and joining the Dask cluster."""
