"""`Lifecycle`: draining starts once, and its start time is the first signal's."""

from __future__ import annotations

from kensho.http.lifecycle import Lifecycle


def test_draining_begins_once_and_keeps_its_first_start() -> None:
    lifecycle = Lifecycle()
    assert not lifecycle.draining and lifecycle.draining_since is None
    lifecycle.begin_draining()
    since = lifecycle.draining_since
    assert lifecycle.draining and since is not None
    lifecycle.begin_draining()  # a second SIGTERM, or an escalation during the pre-stop
    assert lifecycle.draining and lifecycle.draining_since == since
