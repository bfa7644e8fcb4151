"""What the HTTP layer needs from the actor runtime, as a structural type.

`kensho.actors.Supervisor` satisfies it; tests can pass a small stand-in with the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["SupervisorLike", "find_node", "iter_nodes"]


@runtime_checkable
class SupervisorLike(Protocol):
    """The root supervisor as seen by the app: start, stop, inspect, restart."""

    @property
    def failed(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> Any: ...

    def snapshot(self) -> dict[str, Any]: ...

    async def restart_child(self, name: str) -> Any: ...


def iter_nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node (supervisors and actors) of a snapshot tree, depth first."""
    yield node
    for child in node.get("children") or ():
        if isinstance(child, Mapping):
            yield from iter_nodes(child)


def find_node(tree: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The node called `name` in a snapshot tree, or None."""
    return next((n for n in iter_nodes(tree) if n.get("name") == name), None)
