#!/usr/bin/env bash
# Run a command with an ssh-agent that holds the deploy key, and stop the agent afterwards.
#   scripts/ci/ssh-agent.sh COMMAND [ARG...]
# The swarm's docker provider reaches manager 0 as `ssh://USER@GATEWAY` (components/swarm.py): the
# `ssh` it runs authenticates with whatever key an agent offers, so the key must sit in an agent.
#
# DEPLOY_SSH_PRIVATE_KEY holds an OpenSSH private key without a passphrase, as any of:
# - the key text (a GitHub secret; a GitLab variable of type "Variable");
# - a path to a file holding it (a GitLab variable of type "File");
# - the key text base64-encoded on one line (what GitLab can mask).
# The key goes to ssh-add on its standard input: it is never written to a file, put on a command
# line or printed, and the variable is removed from the command's environment. Without the variable
# the command runs with the caller's own agent, if any (an engineer's workstation); scripts/ci/pulumi.sh
# then decides whether an agent key is required.
#
# Host keys: the program's provider passes StrictHostKeyChecking=no and UserKnownHostsFile=/dev/null,
# so no known_hosts is read or written here (docs/deploy.md says what that trades away).
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/ci/ssh-agent.sh COMMAND [ARG...]" >&2
  exit 2
fi

key=${DEPLOY_SSH_PRIVATE_KEY:-}
unset DEPLOY_SSH_PRIVATE_KEY
if [ -z "$key" ]; then
  echo "ssh-agent.sh: DEPLOY_SSH_PRIVATE_KEY is not set; running with the caller's ssh-agent, if any" >&2
  exec "$@"
fi

# A file-type variable holds a path; a path is one short line, a key never is.
if [ "${#key}" -lt 4096 ] && [[ $key != *$'\n'* ]] && [ -f "$key" ]; then
  key=$(< "$key")
fi
key=${key//$'\r'/}  # keys pasted on Windows carry CRLF line ends, which ssh-add rejects
if [[ $key != *"PRIVATE KEY-----"* ]]; then
  if ! key=$(printf '%s' "$key" | base64 -d 2> /dev/null) || [[ $key != *"PRIVATE KEY-----"* ]]; then
    echo "ssh-agent.sh: DEPLOY_SSH_PRIVATE_KEY is neither a private key, a file holding one, nor base64 of one" >&2
    exit 1
  fi
fi

# The agent runs in the foreground (-D) as this script's child, so that it can be stopped and
# waited for however the command ends: no key outlives the job step. Its socket goes in a private
# folder (mode 700) under TMPDIR, removed with it.
agent_dir=$(mktemp -d)
ssh-agent -D -a "$agent_dir/agent.sock" > /dev/null &
agent_pid=$!
stop_agent() {
  kill "$agent_pid" 2> /dev/null || true
  wait "$agent_pid" 2> /dev/null || true  # its status on SIGTERM is not the command's
  rm -rf "$agent_dir"
}
trap stop_agent EXIT
export SSH_AUTH_SOCK="$agent_dir/agent.sock" SSH_AGENT_PID="$agent_pid"
for _ in $(seq 100); do
  [ -S "$SSH_AUTH_SOCK" ] && break
  sleep 0.1
done
# printf is a shell builtin: the key reaches ssh-add through a pipe, never through argv.
# The final newline matters: secrets stores often strip it and ssh-add then refuses the key.
if ! printf '%s\n' "$key" | ssh-add -q -; then
  echo "ssh-agent.sh: ssh-add refused DEPLOY_SSH_PRIVATE_KEY (a passphrase-protected or malformed key?)" >&2
  exit 1
fi
unset key
"$@"
