"""Human views of a manifest: a tree of resources by parent, and counts per type.

Kept apart from the CLI so the same rendering serves the terminal and (later) review comments.
Names and types are escaped: rich would read a `[...]` in them as markup and drop it.
"""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from infra.manifest import Manifest, ResourceRecord


def _label(record: ResourceRecord) -> str:
    suffix = " [cyan](component)[/cyan]" if record.is_component else ""
    return f"[bold]{escape(record.name)}[/bold] [dim]{escape(record.type)}[/dim]{suffix}"


def resource_tree(manifest: Manifest) -> Tree:
    """Resources nested under their parents; top-level ones hang off the stack."""
    tree = Tree(f"[bold]{escape(manifest.project)}[/bold] / stack [bold]{escape(manifest.stack)}[/bold]")
    known = {record.urn for record in manifest.resources}
    children: dict[str | None, list[ResourceRecord]] = {}
    for record in manifest.resources:
        parent = record.parent if record.parent in known else None
        children.setdefault(parent, []).append(record)

    def attach(node: Tree, parent: str | None) -> None:
        for record in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            attach(node.add(_label(record)), record.urn)

    attach(tree, None)
    return tree


def type_table(manifest: Manifest) -> Table:
    """How many resources of each type, with the total."""
    table = Table(title=f"{escape(manifest.stack)}: {len(manifest.resources)} resources", show_footer=True)
    table.add_column("type", footer="total")
    table.add_column("count", justify="right", footer=str(len(manifest.resources)))
    for type_, count in manifest.type_counts().items():
        table.add_row(escape(type_), str(count))
    return table


def plan_view(manifest: Manifest) -> Group:
    """The tree, then the table."""
    return Group(resource_tree(manifest), type_table(manifest))
