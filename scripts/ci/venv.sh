#!/usr/bin/env bash
# The Python environment for CI jobs that only plan or deploy: the pinned packages of
# requirements.lock in .venv, without the Debian services that scripts/bootstrap adds for tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c requirements.lock -e .
