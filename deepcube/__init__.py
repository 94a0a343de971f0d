"""What every half of the platform shares: one form of error for people, written once.

`config_errors` turns pydantic's validation errors into the one configuration line
(`Invalid configuration: <message> for <dotted.yaml.path>`); `cli` is the one command-line boundary
(`<prog>: error: <message>`, exit code 2, a global `--traceback`). Both the Pulumi program
(`infra`) and the data tools (`cube_engine`, `semantic`) import it, so it imports none of them:
only the base dependencies every install has (pydantic, typer, click, rich, pyyaml) and the
standard library. Each half keeps its own exception classes; only the wording lives here.
"""
