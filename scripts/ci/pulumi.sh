#!/usr/bin/env bash
# Run the Pulumi CLI against one real stack, only when a state backend and that cloud's
# credentials are configured; CI calls it for merge-request previews and gated deploys.
#   scripts/ci/pulumi.sh configured STACK   print true/false (for job conditions)
#   scripts/ci/pulumi.sh preview STACK      pulumi preview --diff (skipped, exit 0, if unconfigured)
#   scripts/ci/pulumi.sh up STACK           pulumi up --yes (fails if unconfigured)
# Credentials: PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL (+ PULUMI_CONFIG_PASSPHRASE for a
# passphrase secrets provider), and OS_APPLICATION_CREDENTIAL_ID/_SECRET, either plain or
# prefixed by the stack name in capitals (OVH_OS_APPLICATION_CREDENTIAL_ID, ...), which wins;
# and an ssh-agent holding a key the gateway accepts (CI: run this under scripts/ci/ssh-agent.sh),
# without which the swarm's docker provider cannot connect.
set -euo pipefail
usage="usage: scripts/ci/pulumi.sh configured|preview|up STACK"
action=${1:?$usage}
stack=${2:?$usage}
cd "$(dirname "$0")/../.."

prefix=$(printf '%s' "$stack" | tr '[:lower:]-' '[:upper:]_')
for name in OS_AUTH_URL OS_APPLICATION_CREDENTIAL_ID OS_APPLICATION_CREDENTIAL_SECRET; do
  scoped="${prefix}_${name}"
  if [ -n "${!scoped:-}" ]; then
    export "${name}=${!scoped}"
  fi
done

configured=true
if [ -z "${PULUMI_ACCESS_TOKEN:-}" ] && [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  configured=false
fi
if [ -z "${OS_APPLICATION_CREDENTIAL_ID:-}" ] || [ -z "${OS_APPLICATION_CREDENTIAL_SECRET:-}" ]; then
  configured=false
fi
if ! ssh-add -l > /dev/null 2>&1; then
  configured=false
fi

case "$action" in
  configured)
    echo "$configured"
    exit 0
    ;;
  preview | up) ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac

if [ "$configured" != true ]; then
  echo "pulumi.sh: no state backend, OpenStack credentials or ssh-agent key (DEPLOY_SSH_PRIVATE_KEY) for stack $stack; not running pulumi $action" >&2
  if [ "$action" = up ]; then
    exit 1
  fi
  exit 0
fi

if ! command -v pulumi > /dev/null; then
  curl -fsSL https://get.pulumi.com | sh -s -- --version "${PULUMI_VERSION:-3.272.0}"
  export PATH="$HOME/.pulumi/bin:$PATH"
fi

# A Docker daemon reached over TLS (GitLab's dind service) is handed to the default docker
# provider, the one that builds the images, as stack config, and DOCKER_CERT_PATH/DOCKER_TLS_VERIFY
# leave the environment: the docker provider takes DOCKER_CERT_PATH as the default cert_path of
# *every* docker provider, and the swarm's ssh:// provider, given one, dials TLS instead of ssh.
# The values are saved into a copy of the stack file (--config-file), not the checked-out one.
docker_config=()
if [ -n "${DOCKER_CERT_PATH:-}" ]; then
  stack_file=$(mktemp --suffix=.yaml)
  trap 'rm -f "$stack_file"' EXIT
  cp "Pulumi.$stack.yaml" "$stack_file"
  docker_config=(
    --config-file "$stack_file"
    --config "docker:host=${DOCKER_HOST:?DOCKER_CERT_PATH is set: DOCKER_HOST must name the daemon}"
    --config "docker:certPath=$DOCKER_CERT_PATH"
  )
  unset DOCKER_CERT_PATH DOCKER_TLS_VERIFY
fi

target="${PULUMI_ORG:+$PULUMI_ORG/}$stack"
if [ "$action" = preview ]; then
  pulumi preview --diff --non-interactive --stack "$target" "${docker_config[@]}"
else
  pulumi up --yes --diff --non-interactive --stack "$target" "${docker_config[@]}"
fi
