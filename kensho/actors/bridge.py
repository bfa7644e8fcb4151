"""The asyncio bridge: ask a pykka actor from the event loop without ever blocking it.

pykka's own `Future.__await__` calls the blocking `get()` (ARCHITECTURE rule 1). Instead the
bridge puts an envelope whose reply channel is a `_LoopReply`: when the actor thread sets the
reply, it completes an `asyncio.Future` through `loop.call_soon_threadsafe`. No thread waits,
no executor hop; a timer on the loop enforces the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import pykka
from pykka._envelope import Envelope  # the reply channel pykka's actor loop answers on

from kensho.errors import ActorStopped, ActorTimeout

__all__ = ["await_reply", "bridge_ask", "bridge_tell", "send_ask"]


def _deliver(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _deliver_error(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


def _expire(fut: asyncio.Future[Any], timeout: float) -> None:
    if not fut.done():
        fut.set_exception(ActorTimeout(f"no reply within {timeout:g} s"))


class _LoopReply(pykka.Future[Any]):
    """A pykka reply channel that completes an asyncio future on its loop; never blocks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]) -> None:
        super().__init__()
        self._loop = loop
        self._fut = fut

    def get(self, *, timeout: float | None = None) -> Any:
        raise RuntimeError("a bridged reply is awaited on the event loop, not with get()")

    def set(self, value: Any | None = None) -> None:
        self._call(_deliver, value)

    def set_exception(self, exc_info: Any = None) -> None:
        exc = (exc_info or sys.exc_info())[1]
        if isinstance(exc, pykka.ActorDeadError):
            exc = ActorStopped(str(exc))
        if exc is None:
            exc = ActorStopped("actor replied with an empty exception")
        self._call(_deliver_error, exc)

    def _call(self, fn: Any, arg: Any) -> None:
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, self._fut, arg)


def send_ask(ref: pykka.ActorRef[Any], message: Any, fut: asyncio.Future[Any]) -> None:
    """Enqueue `message` so the actor's reply completes `fut` (on `fut`'s loop)."""
    if not ref.is_alive():
        fut.set_exception(ActorStopped(f"{ref.actor_class.__name__} is not running"))
        return
    ref.actor_inbox.put(Envelope(message, reply_to=_LoopReply(fut.get_loop(), fut)))


async def await_reply(fut: asyncio.Future[Any], timeout: float) -> Any:  # noqa: ASYNC109
    """Await a bridged reply with a deadline; cancelling the caller cancels only `fut`."""
    timer = fut.get_loop().call_later(timeout, _expire, fut, timeout)
    try:
        return await fut
    finally:
        timer.cancel()


async def bridge_ask(ref: pykka.ActorRef[Any], message: Any, timeout: float) -> Any:  # noqa: ASYNC109
    """Ask `ref` and await the reply without blocking the loop.

    Raises `ActorTimeout` after `timeout` seconds, `ActorStopped` if the actor is dead or dies
    before handling the message, and re-raises whatever `handle()` raised, unchanged.
    """
    if not timeout > 0:
        raise ValueError("an ask needs a positive timeout")
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    send_ask(ref, message, fut)
    return await await_reply(fut, timeout)


def bridge_tell(ref: pykka.ActorRef[Any], message: Any) -> None:
    """Fire and forget; raises `ActorStopped` when the actor is not running."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError as exc:
        raise ActorStopped(str(exc)) from None
