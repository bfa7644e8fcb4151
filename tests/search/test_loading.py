"""load_cancellable: a stopping index build does not wait for a one-time blocking load."""

from __future__ import annotations

import threading

import pytest

from kensho.search.loading import BuildCancelled, load_cancellable


def test_without_cancelled_it_is_a_plain_call_on_the_callers_thread() -> None:
    assert load_cancellable(threading.current_thread, None, "x") is threading.current_thread()


def test_the_load_runs_on_a_thread_of_its_own_and_its_result_comes_back() -> None:
    thread = load_cancellable(threading.current_thread, lambda: False, "the thing")
    assert thread is not threading.current_thread()
    assert thread.name == "search-load the thing" and thread.daemon


def test_a_stop_requested_before_the_load_starts_nothing() -> None:
    started: list[int] = []
    with pytest.raises(BuildCancelled, match="before the bundle"):
        load_cancellable(lambda: started.append(1), lambda: True, "the bundle")
    assert started == []


def test_a_stop_during_the_load_gives_up_at_once_and_the_load_finishes_on_its_own() -> None:
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    stopping = threading.Event()

    def slow_load() -> str:
        entered.set()
        release.wait(30)
        finished.set()
        return "rows"

    def cancelled() -> bool:
        if entered.is_set():
            stopping.set()  # the stop arrives while the load is running
        return stopping.is_set()

    with pytest.raises(BuildCancelled, match="while the dictionaries was loading"):
        load_cancellable(slow_load, cancelled, "the dictionaries")
    assert not finished.is_set()  # the builder did not wait for it
    release.set()
    assert finished.wait(10)


def test_the_loads_own_error_reaches_the_builder() -> None:
    def broken() -> None:
        raise OSError("bundle unreadable")

    with pytest.raises(OSError, match="bundle unreadable"):
        load_cancellable(broken, lambda: False, "the bundle")
