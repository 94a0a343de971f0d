#!/usr/bin/env bash
# Run the policies on the offline plan of every stack (or of the stacks given); one line per
# violation, and a non-zero exit if any stack has one, after checking them all.
#   scripts/ci/policy-check.sh [STACK...]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
stacks=("$@")
if [ "${#stacks[@]}" -eq 0 ]; then
  for file in Pulumi.*.yaml; do
    name=${file#Pulumi.}
    stacks+=("${name%.yaml}")
  done
fi
status=0
for stack in "${stacks[@]}"; do
  "$PY" -m infra.plan check "$stack" || status=1
done
exit "$status"
