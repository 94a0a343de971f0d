"""Human views of a manifest: a tree of resources by parent, and counts per type.

Kept apart from the CLI so the same rendering serves the terminal and (later) review comments.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.tree import Tree

from infra.manifest import Manifest, ResourceRecord


def _label(record: ResourceRecord) -> str:
    kind = "component" if record.is_component else "resource"
    return f"[bold]{record.name}[/bold] [dim]{record.type}[/dim]" + (
        " [cyan](component)[/cyan]" if kind == "component" else ""
    )


def resource_tree(manifest: Manifest) -> Tree:
    """Resources nested under their parents; top-level ones hang off the stack."""
    tree = Tree(f"[bold]{manifest.project}[/bold] / stack [bold]{manifest.stack}[/bold]")
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
    table = Table(title=f"{manifest.stack}: {len(manifest.resources)} resources", show_footer=True)
    table.add_column("type", footer="total")
    table.add_column("count", justify="right", footer=str(len(manifest.resources)))
    for type_, count in manifest.type_counts().items():
        table.add_row(type_, str(count))
    return table


def plan_view(manifest: Manifest) -> Group:
    return Group(resource_tree(manifest), type_table(manifest))
