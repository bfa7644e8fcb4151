"""The asyncio bridge: ask a Kenshō actor from the event loop without ever blocking it.

pykka's own `Future.__await__` calls the blocking `get()` (ARCHITECTURE rule 1). Instead the
bridge tells the actor a `Letter` carrying a `Reply`: when the actor has handled the message,
the reply completes an `asyncio.Future` through `loop.call_soon_threadsafe`. No thread waits,
no executor hop; a timer on the loop enforces the timeout. The actor's `Mailbox` bounds how many
letters may wait (beyond it: `MailboxFull`, 503) and fails the waiting asks when it stops.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pykka

from kensho.actors.mailbox import Letter, Orphan, Reply
from kensho.errors import ActorError, ActorStopped, ActorTimeout
from kensho.observability.tracing import capture_context

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from kensho.actors.base import KenshoActor

__all__ = ["await_reply", "bridge_ask", "bridge_tell", "post", "send_ask"]


def _expire(fut: asyncio.Future[Any], timeout: float) -> None:
    if not fut.done():
        fut.set_exception(ActorTimeout(f"no reply within {timeout:g} s"))


def post(
    actor: KenshoActor,
    message: Any,
    reply: Reply | None,
    *,
    bounded: bool = True,
    context: Context | None = None,
) -> None:
    """Put one letter in `actor`'s mailbox: `MailboxFull` when too many wait, `ActorStopped`
    when it is not running. `bounded=False` replays letters that were admitted before.

    The letter carries the caller's trace context (when tracing is on), or `context`: the one
    a stashed message was sent from, for a replay.
    """
    if context is None:
        context = capture_context()
    actor.mailbox.admit(reply, bounded=bounded)
    try:
        actor.actor_ref.tell(Letter(message, reply, context))
    except pykka.ActorDeadError:
        actor.mailbox.withdraw(reply)
        raise ActorStopped(f"{actor.stats.name} is not running") from None


def send_ask(
    actor: KenshoActor,
    message: Any,
    fut: asyncio.Future[Any],
    *,
    on_orphan: Orphan | None = None,
    bounded: bool = True,
    context: Context | None = None,
) -> None:
    """Enqueue `message` so the actor's reply completes `fut` (on `fut`'s loop).

    A refusal (`MailboxFull`, `ActorStopped`) completes `fut` with the error. `on_orphan` gets
    a reply that arrives after `fut` was given up (see `await_reply`). `context` as in `post`.
    """
    try:
        post(actor, message, Reply(fut, on_orphan), bounded=bounded, context=context)
    except ActorError as exc:
        fut.set_exception(exc)


async def await_reply(
    fut: asyncio.Future[Any],
    timeout: float,  # noqa: ASYNC109
    on_orphan: Orphan | None = None,
) -> Any:
    """Await a bridged reply with a deadline; cancelling the caller cancels only `fut`.

    When the deadline passes first, `fut` fails with `ActorTimeout`: the actor then skips the
    message if it has not started on it, and a reply that still comes goes to `on_orphan`
    (so does one that arrived just as the caller was cancelled).
    """
    timer = fut.get_loop().call_later(timeout, _expire, fut, timeout)
    try:
        return await fut
    except asyncio.CancelledError:
        if on_orphan is not None and fut.done() and not fut.cancelled() and not fut.exception():
            on_orphan(fut.result())
        raise
    finally:
        timer.cancel()


async def bridge_ask(
    actor: KenshoActor,
    message: Any,
    timeout: float,  # noqa: ASYNC109
    *,
    on_orphan: Orphan | None = None,
) -> Any:
    """Ask `actor` and await the reply without blocking the loop.

    Raises `ActorTimeout` after `timeout` seconds, `MailboxFull` when its mailbox is full,
    `ActorStopped` if the actor is dead or dies before handling the message, and re-raises
    whatever `handle()` raised, unchanged.
    """
    if not timeout > 0:
        raise ValueError("an ask needs a positive timeout")
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    send_ask(actor, message, fut, on_orphan=on_orphan)
    return await await_reply(fut, timeout, on_orphan)


def bridge_tell(actor: KenshoActor, message: Any) -> None:
    """Fire and forget; `ActorStopped` when the actor is not running, `MailboxFull` when full."""
    post(actor, message, None)
