#!/usr/bin/env bash
# Install, when missing, the commands that `pulumi preview`/`up` of this program shell out to:
# - ssh, ssh-agent, ssh-add (Debian openssh-client): the swarm's docker provider runs
#   `ssh USER@GATEWAY docker system dial-stdio`, with the key that scripts/ci/ssh-agent.sh loads;
# - docker (Debian docker.io): scripts/ci/docker-env.sh waits for the job's daemon and logs in to
#   the registry with it. The package also brings a daemon, which nothing starts here.
# Versions follow the job image's Debian release (python:3.11-bookworm: OpenSSH 9.2, Docker 20.10,
# whose API 1.41 Docker Engine up to 28 accepts). Exact package versions are not pinned: Debian
# removes the superseded ones from its mirrors at each security update, which would break the job.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in ssh ssh-agent ssh-add; do
  if ! command -v "$tool" > /dev/null; then
    missing+=(openssh-client)
    break
  fi
done
if ! command -v docker > /dev/null; then
  missing+=(docker.io)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "deploy-tools.sh: installing ${missing[*]}" >&2
as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
  install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
