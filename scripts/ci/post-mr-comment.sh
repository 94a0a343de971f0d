#!/usr/bin/env bash
# Post a Markdown file as a note on the current GitLab merge request.
#   scripts/ci/post-mr-comment.sh FILE
# Needs PLAN_COMMENT_TOKEN (a project access token with the api scope). Without it the file
# stays an artifact only; a failed post never fails the pipeline.
set -euo pipefail
file=${1:?usage: scripts/ci/post-mr-comment.sh FILE}
if [ -z "${PLAN_COMMENT_TOKEN:-}" ] || [ -z "${CI_MERGE_REQUEST_IID:-}" ]; then
  echo "post-mr-comment: no PLAN_COMMENT_TOKEN or not a merge request; the diff is an artifact only" >&2
  exit 0
fi
url="${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}/merge_requests/${CI_MERGE_REQUEST_IID}/notes"
python3 -c 'import json, sys; json.dump({"body": sys.stdin.read()}, sys.stdout)' < "$file" |
  curl --fail --silent --show-error --request POST \
    --header "PRIVATE-TOKEN: ${PLAN_COMMENT_TOKEN}" --header "Content-Type: application/json" \
    --data @- "$url" > /dev/null ||
  echo "post-mr-comment: could not post the note; see the plan-diff artifact" >&2
