"""The one place Kenshō reaches into pykka's private API.

Everything else uses pykka's public API: `ThreadingActor` and its hooks, `ActorRef.tell`,
`ActorRef.stop`, `ActorRef.is_alive`, `ActorRegistry`. Replies travel inside our own messages
(`kensho.actors.mailbox`), so no private envelope or future type is needed.

What pykka does not offer publicly: starting an actor that was constructed elsewhere.
`Actor.start()` constructs and starts in one call, but the supervisor constructs in an executor
(a slow constructor must not block the loop), then binds the child's statistics and exit report,
and only then starts the thread. `start_constructed` is what `Actor.start()` does after its
`cls(...)`. `tests/actors/test_pykka_contract.py` pins the behaviour of the pykka version we run
against (pyproject: `pykka>=4.0,<5`).
"""

from __future__ import annotations

from typing import Any

import pykka

__all__ = ["start_constructed"]


def start_constructed(actor: pykka.ThreadingActor) -> pykka.ActorRef[Any]:
    """Register `actor` and start its thread, as `Actor.start()` does after constructing it."""
    pykka.ActorRegistry.register(actor.actor_ref)
    actor._start_actor_loop()
    return actor.actor_ref
