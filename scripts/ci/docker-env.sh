#!/usr/bin/env bash
# Run a command once the job's Docker daemon answers, logged in to the image registry if asked.
#   scripts/ci/docker-env.sh COMMAND [ARG...]
# `pulumi up` builds the repository's images (docker.Image in components/platform_services.py) on
# the daemon of the job itself, the one DOCKER_HOST names (the runner's socket when unset), and
# pushes them from there; the swarm is reached separately, over ssh.
#
# - Waiting: GitLab starts the dind service beside the job, and it writes the TLS client
#   certificates into DOCKER_CERT_PATH only a few seconds later; give up after
#   DOCKER_WAIT_SECONDS (default 60).
# - Registry: pulumi-docker pushes with the program's own credentials when the stack sets both
#   services.registry.username and the secret registry_password; otherwise with the docker
#   credentials of DOCKER_CONFIG. When DEPLOY_REGISTRY_PASSWORD is set, this logs in to
#   DEPLOY_REGISTRY_SERVER as DEPLOY_REGISTRY_USER in a throwaway DOCKER_CONFIG, removed afterwards,
#   so no credential stays on a reused runner.
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/ci/docker-env.sh COMMAND [ARG...]" >&2
  exit 2
fi

wait_s=${DOCKER_WAIT_SECONDS:-60}
deadline=$((SECONDS + wait_s))
until docker version > /dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "docker-env.sh: no Docker daemon at ${DOCKER_HOST:-the default socket} after ${wait_s}s:" >&2
    docker version >&2 || true
    exit 1
  fi
  sleep 2
done

password=${DEPLOY_REGISTRY_PASSWORD:-}
unset DEPLOY_REGISTRY_PASSWORD
if [ -n "$password" ]; then
  server=${DEPLOY_REGISTRY_SERVER:?DEPLOY_REGISTRY_PASSWORD is set: set DEPLOY_REGISTRY_SERVER too}
  user=${DEPLOY_REGISTRY_USER:?DEPLOY_REGISTRY_PASSWORD is set: set DEPLOY_REGISTRY_USER too}
  DOCKER_CONFIG=$(mktemp -d)
  export DOCKER_CONFIG
  trap 'rm -rf "$DOCKER_CONFIG"' EXIT
  # printf is a builtin: the password reaches docker through a pipe, never through argv.
  printf '%s' "$password" | docker login --username "$user" --password-stdin "$server" > /dev/null
  unset password
fi
"$@"
