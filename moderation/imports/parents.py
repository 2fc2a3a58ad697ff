"""Reply chains inside one import: no row may be its own parent or its own ancestor."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moderation.imports.rows import LocatedRow


def cycle_errors(rows: list[LocatedRow]) -> dict[str, list[str]]:
    """Name each row whose parent chain in the file comes back to it (itself or a cycle)."""
    by_id = {located.row.id: located for located in rows}
    errors: dict[str, list[str]] = {}
    settled: set[str] = set()
    for start in rows:
        chain: list[LocatedRow] = []
        position: dict[str, int] = {}
        current: LocatedRow | None = start
        while current is not None and current.row.id not in settled:
            if current.row.id in position:
                cycle = chain[position[current.row.id] :]
                if len(cycle) == 1:
                    message = "is the row's own id: a comment cannot reply to itself"
                else:
                    path = " -> ".join(c.where for c in [*cycle, cycle[0]])
                    message = f"makes a cycle of replies: {path}"
                for located in cycle:
                    errors[f"{located.where}: parent_id"] = [message]
                break
            position[current.row.id] = len(chain)
            chain.append(current)
            current = by_id.get(current.row.parent_id or "")
        settled.update(located.row.id for located in chain)
    order = {f"{located.where}: parent_id": i for i, located in enumerate(rows)}
    return dict(sorted(errors.items(), key=lambda item: order[item[0]]))
