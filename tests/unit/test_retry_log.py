"""``RetryLog``: a task retried until it succeeds logs one warning, then a reminder every
``remind_interval`` seconds, then one info line; never a line per attempt."""

from __future__ import annotations

import logging

from milvus.util.retry_log import RetryLog

LOGGER = "tests.retry_log"


class Clock:
    def __init__(self, now: float = 500.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _records(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_one_warning_then_reminders_then_one_info_line(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    clock = Clock()
    retry = RetryLog(logging.getLogger(LOGGER), remind_interval=60, clock=clock)
    what = "finish dropping collection c (7)"
    for _ in range(30):  # one attempt a second for half a minute
        retry.failed(("collection", 7), what, ConnectionError("datacoord unreachable"))
        clock.now += 1
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith(
        "could not finish dropping collection c (7) yet: ConnectionError: datacoord unreachable")
    assert warnings[0].exc_info is None  # the traceback only at debug level
    assert any(r.exc_info is not None for r in _records(caplog, logging.DEBUG))
    clock.now = 500 + 59.5
    retry.failed(("collection", 7), what, ConnectionError("datacoord unreachable"))
    assert len(_records(caplog, logging.WARNING)) == 1
    clock.now = 500 + 60
    retry.failed(("collection", 7), what, ConnectionError("still down"))
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 2
    assert warnings[1].getMessage() == ("still could not finish dropping collection c (7) after 32 attempts "
                                        "in 60s: ConnectionError: still down")
    clock.now = 500 + 119  # the next reminder counts from the last one
    retry.failed(("collection", 7), what, ConnectionError("still down"))
    assert len(_records(caplog, logging.WARNING)) == 2
    clock.now = 500 + 120
    retry.failed(("collection", 7), what, ConnectionError("still down"))
    assert len(_records(caplog, logging.WARNING)) == 3
    assert retry.failing() == [("collection", 7)]
    clock.now = 500 + 125
    assert retry.succeeded(("collection", 7), what)
    infos = _records(caplog, logging.INFO)
    assert [r.getMessage() for r in infos] == [
        "finish dropping collection c (7): done after 34 failed attempts in 125s"]
    assert retry.failing() == []
    assert not retry.succeeded(("collection", 7), what)  # a success without failures logs nothing
    assert len(_records(caplog, logging.INFO)) == 1


def test_keys_are_apart_and_a_new_failure_after_success_warns_again(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock()
    retry = RetryLog(logging.getLogger(LOGGER), remind_interval=60, clock=clock)
    retry.failed("a", "do a", RuntimeError("x"))
    retry.failed("b", "do b", RuntimeError("y"))
    retry.failed("a", "do a", RuntimeError("x"))
    assert [r.getMessage().split(":")[0] for r in _records(caplog, logging.WARNING)] == ["could not do a yet",
                                                                                         "could not do b yet"]
    retry.succeeded("a", "do a")
    retry.failed("a", "do a", RuntimeError("x"))
    assert len(_records(caplog, logging.WARNING)) == 3
    retry.retain(["a"])  # b went away without succeeding here: forgotten, no line
    assert retry.failing() == ["a"]
    assert not retry.succeeded("b", "do b")
