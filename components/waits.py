"""Bounded waits for remote commands: retry a condition until it holds, but never forever.

A remote command that waits for a node (cloud-init done, Docker answering, the node known to the
swarm) with a bare `until …; do sleep …; done` hangs `pulumi up` for good when the node never gets
there. Every wait in the program's remote commands is built here instead:
- the condition is retried every `interval_s` seconds until it succeeds or `timeout_s` seconds have
  passed; each attempt is cut off at the deadline too (`timeout`), so a condition that blocks (a
  stuck `cloud-init status --wait`, ssh to a node that never answers) cannot outlast it;
- exit codes may mean more than yes or no: `warn` codes end the wait with a warning (cloud-init's
  `status --wait` answers 2 for "done, with recoverable errors": no reason to wait longer), `fail`
  codes end it at once with an error (cloud-init's 1: waiting longer would not help);
- on expiry it prints what it waited for and the last lines the condition printed, and exits
  `TIMED_OUT` (or, for a wait that may give up, says so and carries on).

The snippet is POSIX sh on one line, safe under `set -e` (every failing status is caught), and
writes nothing to stdout: commands whose stdout is an output (a node id) stay exact.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Literal

TIMED_OUT = 124
"""Exit status of a wait that expired (the one `timeout` itself uses)."""
LOOP_HEAD = "while :; do _wait_left=$((_wait_end - $(date +%s)))"
"""How every loop built here starts: a retry loop tied to the deadline set just before it."""
DEADLINE_CHECK = '[ "$(date +%s)" -lt "$_wait_end" ] ||'
"""The test in every loop built here that ends it once the deadline has passed."""
SHOWN_LINES = 20
"""Lines of the condition's last output printed with a failure or an expiry."""

CLOUD_INIT_WARN = {2: "cloud-init finished with recoverable errors"}
CLOUD_INIT_FAIL = {1: "cloud-init failed"}
CLOUD_INIT_STATUS = "cloud-init status --wait --long"
"""Blocks until cloud-init is done; `--long` ends with the errors and warnings, if any."""


def bounded_wait(
    condition: str,
    *,
    what: str,
    timeout_s: int,
    interval_s: int = 5,
    warn: Mapping[int, str] | None = None,
    fail: Mapping[int, str] | None = None,
    on_timeout: Literal["fail", "continue"] = "fail",
) -> str:
    """Shell that retries `condition` (run by `sh -c`) until it exits 0, for at most `timeout_s`.

    `what` names what is waited for, in messages ("cloud-init to finish on 10.0.0.5"). Exit codes in
    `warn` end the wait with a warning, those in `fail` end the command at once with that code.
    `on_timeout="continue"` is for waits whose purpose is only to give something a chance (a drain
    before a forced removal): on expiry they say so and the command goes on. The condition is tried
    at least once, even with `timeout_s=0`.
    """
    if timeout_s < 0 or interval_s < 0:
        raise ValueError(f"timeout and interval must be >= 0 (got {timeout_s}, {interval_s})")
    warn, fail = dict(warn or {}), dict(fail or {})
    if 0 in warn or 0 in fail or set(warn) & set(fail):
        raise ValueError("exit code 0 is success; a code is either a warning or a failure")
    show = f"printf '%s\\n' \"$_wait_out\" | tail -n {SHOWN_LINES} >&2"
    cases = ["0) break ;;"]
    for code, meaning in sorted(warn.items()):
        note = shlex.quote(f"waiting for {what}: warning: {meaning} (exit {code}); going on")
        cases.append(f"{code}) echo {note} >&2; {show}; break ;;")
    for code, meaning in sorted(fail.items()):
        note = shlex.quote(f"waiting for {what}: {meaning} (exit {code})")
        cases.append(f"{code}) echo {note} >&2; {show}; exit {code} ;;")
    expired = f"gave up after {timeout_s} s waiting for {what}"
    if on_timeout == "continue":
        give_up = f"{{ echo {shlex.quote(expired + '; going on')} >&2; break; }}"
    else:
        give_up = f"{{ echo {shlex.quote(expired)} >&2; {show}; exit {TIMED_OUT}; }}"
    return (
        f"_wait_end=$(($(date +%s) + {timeout_s})); {LOOP_HEAD}; "
        '[ "$_wait_left" -gt 0 ] || _wait_left=1; _wait_rc=0; '
        f'_wait_out=$(timeout "$_wait_left" sh -c {shlex.quote(condition)} 2>&1) || _wait_rc=$?; '
        f'case "$_wait_rc" in {" ".join(cases)} esac; '
        f"{DEADLINE_CHECK} {give_up}; sleep {interval_s}; done"
    )


def cloud_init_done(
    *, where: str, timeout_s: int, status: str = CLOUD_INIT_STATUS, interval_s: int = 10
) -> str:
    """Wait for cloud-init to finish: `status` is `CLOUD_INIT_STATUS`, run locally or through ssh
    (whose exit status is the remote one; ssh's own failures, 255, are retried like any other)."""
    return bounded_wait(
        status,
        what=f"cloud-init to finish on {where}",
        timeout_s=timeout_s,
        interval_s=interval_s,
        warn=CLOUD_INIT_WARN,
        fail=CLOUD_INIT_FAIL,
    )
