"""What a change does to each stack: two offline manifests compared, grouped by component.

Reviewers need to see the infrastructure a merge request adds, removes and changes without a
cloud, a Pulumi CLI or credentials. Both sides are manifests from the offline runner: one from
the git revision REV (materialised with `git archive` in a temporary folder), one from the
working tree. Each evaluation runs in its own process because the Pulumi runtime is global,
with PYTHONPATH at that tree so it imports that tree's `infra` and `components`.

Secrets: the runner records a secret as `<secret:FINGERPRINT>`, a salted hash of its offline
stand-in (stack secrets stand in as placeholders derived from their ciphertext, so re-encrypting
a new value changes the fingerprint). A changed secret is reported as "secret changed (value
hidden)"; neither side's value or fingerprint is ever printed.

Output is deterministic: records and groups are sorted, values are JSON with sorted keys.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.manifest import SECRET, Manifest, ResourceRecord, is_secret

ABSENT = "(absent)"
MAX_VALUE_CHARS = 100
MAX_TEXT_DIFF_LINES = 40
STACK_GROUP = "(stack)"


class PlanDiffError(RuntimeError):
    """A revision, stack or manifest could not be read or evaluated; the message says which."""


class _Missing:
    def __repr__(self) -> str:
        return ABSENT


MISSING: Any = _Missing()


@dataclass(frozen=True)
class ValueChange:
    """One changed leaf (or subtree) at a dotted path; `secret` means neither side may be shown."""

    path: str
    old: Any
    new: Any
    secret: bool = False

    def to_dict(self) -> dict[str, Any]:
        def side(value: Any) -> Any:
            return SECRET if self.secret and value is not MISSING else (None if value is MISSING else value)

        return {
            "path": self.path,
            "old": side(self.old),
            "new": side(self.new),
            "old_absent": self.old is MISSING,
            "new_absent": self.new is MISSING,
            "secret": self.secret,
        }


@dataclass(frozen=True)
class ResourceChange:
    """A resource added (+), removed (-) or changed (~), with the component group it sits in."""

    kind: str
    urn: str
    type: str
    name: str
    group: str
    changes: tuple[ValueChange, ...] = ()

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.group, "-~+".index(self.kind), self.type, self.name)


@dataclass
class StackDiff:
    """Everything that differs for one stack between the base and the new manifest."""

    stack: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[ValueChange] = field(default_factory=list)
    note: str = ""
    """Set when one side has no such stack (a stack file added or removed)."""

    def count(self, kind: str) -> int:
        return sum(1 for change in self.resources if change.kind == kind)

    def summary(self) -> str:
        """The one line per stack, e.g. `ovh: +3 ~1 -0`."""
        return f"{self.stack}: +{self.count('+')} ~{self.count('~')} -{self.count('-')}"

    @property
    def empty(self) -> bool:
        return not self.resources and not self.outputs


# --- comparing -------------------------------------------------------------------------------


def _has_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def diff_values(path: str, old: Any, new: Any) -> Iterator[ValueChange]:
    """Leaf-level changes between two JSON values; equal-length lists are compared item by item."""
    if old == new and (old is MISSING) == (new is MISSING):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            yield from diff_values(sub, old.get(key, MISSING), new.get(key, MISSING))
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from diff_values(f"{path}[{index}]", a, b)
        return
    yield ValueChange(path, old, new, secret=_has_secret(old) or _has_secret(new))


def _secrecy_changes(old: ResourceRecord, new: ResourceRecord) -> Iterator[ValueChange]:
    """A key that became (or stopped being) secret: the only secret change visible offline."""
    for key in sorted(set(old.secret_inputs) ^ set(new.secret_inputs)):
        became = key in new.secret_inputs
        yield ValueChange(key, "plain" if became else "secret", "secret" if became else "plain", secret=True)


def record_changes(old: ResourceRecord, new: ResourceRecord) -> tuple[ValueChange, ...]:
    """Changed inputs, then changed provider and resource options (protect, ignoreChanges...)."""
    secrecy = {change.path: change for change in _secrecy_changes(old, new)}
    changes = [change for change in diff_values("", old.inputs, new.inputs) if change.path not in secrecy]
    changes += secrecy.values()
    if old.provider != new.provider:
        changes.append(ValueChange("[provider]", old.provider, new.provider))
    changes += diff_values("[options]", old.options, new.options)
    return tuple(sorted(changes, key=lambda change: change.path))


def component_group(record: ResourceRecord, by_urn: dict[str, ResourceRecord]) -> str:
    """The chain of enclosing components, outermost first, with the innermost one's type."""
    names: list[str] = []
    parent = by_urn.get(record.parent or "")
    innermost = parent
    while parent is not None:
        names.append(parent.name)
        parent = by_urn.get(parent.parent or "")
    if innermost is None:
        return STACK_GROUP
    return " › ".join(reversed(names)) + f"  [{innermost.type}]"


def diff_manifests(stack: str, old: Manifest | None, new: Manifest | None) -> StackDiff:
    """Compare two manifests of one stack; a missing side means the stack file is new or gone."""
    result = StackDiff(stack)
    if old is None and new is None:
        raise PlanDiffError(f"stack {stack}: no Pulumi.{stack}.yaml on either side")
    if old is None:
        result.note = "new stack (no stack file at the base)"
    elif new is None:
        result.note = "stack removed (no stack file in the working tree)"
    old_urns = old.by_urn() if old else {}
    new_urns = new.by_urn() if new else {}
    for urn in sorted(set(old_urns) | set(new_urns)):
        before, after = old_urns.get(urn), new_urns.get(urn)
        if before is None and after is not None:
            kind, record, changes = "+", after, ()
        elif after is None and before is not None:
            kind, record, changes = "-", before, ()
        elif before is not None and after is not None:
            changes = record_changes(before, after)
            if not changes:
                continue
            kind, record = "~", after
        else:  # pragma: no cover - the URN came from one of the two maps
            continue
        group = component_group(record, new_urns if record is after else old_urns)
        result.resources.append(ResourceChange(kind, urn, record.type, record.name, group, changes))
    result.resources.sort(key=ResourceChange.sort_key)
    result.outputs = list(diff_values("", old.outputs if old else {}, new.outputs if new else {}))
    return result


# --- rendering -------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is MISSING:
        return ABSENT
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _change_lines(change: ValueChange) -> list[str]:
    """`path: old → new`; secrets hidden; multi-line strings (cloud-init, scripts) as a line diff."""
    if change.secret:
        if change.old is MISSING or change.new is MISSING:
            verb = "added" if change.old is MISSING else "removed"
            return [f"{change.path}: secret {verb} (value hidden)"]
        if change.old in ("plain", "secret") and change.new in ("plain", "secret"):
            return [f"{change.path}: {change.old} → {change.new} (value hidden)"]
        return [f"{change.path}: secret changed (value hidden)"]
    old, new = change.old, change.new
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        body = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
        if len(body) > MAX_TEXT_DIFF_LINES:
            body = [*body[:MAX_TEXT_DIFF_LINES], f"… {len(body) - MAX_TEXT_DIFF_LINES} more lines"]
        return [f"{change.path}: text changed", *(f"  {line}" for line in body)]
    return [f"{change.path}: {_show(old)} → {_show(new)}"]


def stack_lines(diff: StackDiff) -> list[str]:
    """The body of one stack's diff: groups of +/~/- lines, changed inputs indented below."""
    lines: list[str] = []
    if diff.note:
        lines.append(f"# {diff.note}")
    group = None
    for change in diff.resources:
        if change.group != group:
            group = change.group
            lines.append(f"  {group}")
        lines.append(f"{change.kind}   {change.type}  {change.name}")
        lines.extend(f"        {line}" for item in change.changes for line in _change_lines(item))
    if diff.outputs:
        lines.append("  outputs")
        lines.extend(f"~   {line}" for item in diff.outputs for line in _change_lines(item))
    if diff.empty:
        lines.append("  no changes")
    return lines


def render_text(diffs: Sequence[StackDiff], base: str) -> str:
    """Terminal form: a section per stack, then the one-line summaries."""
    out: list[str] = []
    for diff in diffs:
        out += [f"== {diff.stack} (base {base} → working tree)", *stack_lines(diff), ""]
    out += [diff.summary() for diff in diffs]
    return "\n".join(out) + "\n"


def render_markdown(diffs: Sequence[StackDiff], base: str) -> str:
    """Merge-request comment: summaries first, then one collapsible `diff` block per stack."""
    out = [f"### Offline plan diff (base `{base}`)", ""]
    out += [f"- **{diff.stack}**: `{diff.summary().split(': ', 1)[1]}`" for diff in diffs]
    for diff in diffs:
        body = "\n".join(stack_lines(diff))
        fence = "```" if "```" not in body else "~~~~"
        opened = "" if diff.empty else " open"
        out += ["", f"<details{opened}><summary>{diff.summary()}</summary>", "", f"{fence}diff", body, fence,
                "", "</details>"]
    out += ["", "_Offline plan: a changed secret is shown as changed; its value is never shown. "
                "Produced by `python -m infra.plan diff`._"]
    return "\n".join(out) + "\n"


def render_json(diffs: Sequence[StackDiff], base: str) -> str:
    """For tools: the same content as data, with secret sides replaced by "<secret>"."""
    data = {
        "base": base,
        "stacks": [
            {
                "stack": diff.stack,
                "summary": {"added": diff.count("+"), "changed": diff.count("~"), "removed": diff.count("-")},
                "note": diff.note,
                "resources": [
                    {
                        "kind": {"+": "added", "~": "changed", "-": "removed"}[change.kind],
                        "urn": change.urn,
                        "type": change.type,
                        "name": change.name,
                        "group": change.group,
                        "changes": [item.to_dict() for item in change.changes],
                    }
                    for change in diff.resources
                ],
                "outputs": [item.to_dict() for item in diff.outputs],
            }
            for diff in diffs
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}


# --- evaluating at revisions -----------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["git failed"])[-1]
        raise PlanDiffError(f"git {' '.join(args)}: {message}")
    return result.stdout.strip()


def resolve_base(repo: Path, rev: str | None) -> str:
    """REV as a full commit id; by default the merge base with main (HEAD when on main or no main)."""
    if rev:
        command = ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.strip()
        if result.stderr.strip():  # not a repository, no git...: git says what is wrong
            raise PlanDiffError(f"--base {rev}: {result.stderr.strip().splitlines()[-1]}")
        raise PlanDiffError(f"--base {rev}: no such revision (commit, branch or tag) in {repo}")
    for branch in ("main", "origin/main"):
        try:
            return _git(repo, "merge-base", "HEAD", branch)
        except PlanDiffError:
            continue
    return _git(repo, "rev-parse", "HEAD")


def materialise(repo: Path, commit: str, dest: Path) -> Path:
    """Write the tree of `commit` into `dest` (no checkout, no change to the repository)."""
    result = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit], capture_output=True)
    if result.returncode != 0:
        raise PlanDiffError(f"git archive {commit[:12]}: {result.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def stacks_in(root: Path) -> list[str]:
    """Stack names from the `Pulumi.<stack>.yaml` files in a tree."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))


def manifest_at(root: Path, stack: str, label: str) -> Manifest | None:
    """Evaluate one stack of the tree at `root` in a fresh process; None if it has no such stack."""
    if not (root / f"Pulumi.{stack}.yaml").exists():
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "infra.plan", stack, "--json"]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise PlanDiffError(f"stack {stack} at {label}: {message.removeprefix('error: ')}")
    try:
        return Manifest.from_dict(json.loads(result.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanDiffError(f"stack {stack} at {label}: not a manifest ({exc})") from exc


def load_manifest_file(path: Path) -> Manifest:
    """A manifest JSON written by `python -m infra.plan STACK --json`."""
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise PlanDiffError(f"{path}: file not found") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanDiffError(f"{path}: not a manifest ({exc})") from None


def diff_revision(repo: Path, rev: str | None, stacks: Sequence[str]) -> tuple[str, list[StackDiff]]:
    """Diff stacks between REV and the working tree at `repo`; returns (short base id, diffs)."""
    commit = resolve_base(repo, rev)
    short = commit[:12]
    with tempfile.TemporaryDirectory(prefix="plan-diff-") as tmp:
        base_root = materialise(repo, commit, Path(tmp))
        names = list(stacks) or sorted(set(stacks_in(base_root)) | set(stacks_in(repo)))
        if not names:
            raise PlanDiffError("no Pulumi.<stack>.yaml in the working tree or at the base")
        jobs = [(base_root, name, short) for name in names] + [(repo, name, "working tree") for name in names]
        with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            results = list(pool.map(lambda job: manifest_at(*job), jobs))
    diffs = [diff_manifests(name, results[i], results[len(names) + i]) for i, name in enumerate(names)]
    return short, diffs
