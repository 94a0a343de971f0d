#!/usr/bin/env bash
# The offline plan diff of a merge request: Markdown for the comment, JSON for tools.
#   scripts/ci/plan-diff.sh BASE_REV [OUT_DIR]
# BASE_REV is the merge request's base commit; the history must be fetched (GIT_DEPTH 0 /
# fetch-depth 0) so that git can materialise it.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:?usage: scripts/ci/plan-diff.sh BASE_REV [OUT_DIR]}
out=${2:-artifacts}
PY=${PY:-.venv/bin/python}
mkdir -p "$out"
"$PY" -m infra.plan diff --base "$base" --format markdown > "$out/plan-diff.md"
"$PY" -m infra.plan diff --base "$base" --format json > "$out/plan-diff.json"
cat "$out/plan-diff.md"
