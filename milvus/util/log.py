"""Process-wide logging set up once by the composition root: text or one JSON object per line.

Every record carries the process' role and node id (filled in once the session is
registered) and, when the current context has one, the request's trace id.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import IO, Any

# the trace id of the request being served in this context (set by the RPC layer)
trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
FORMATS = ("text", "json")

# marks the handler setup_logging installed, so that a second call replaces it
_HANDLER_MARK = "_milvus_handler"


class LogContext(logging.Filter):
    """Stamps role, node id and trace id on every record passing the handler."""

    def __init__(self, role: str, node_id: int | None = None):
        super().__init__()
        self.role = role
        self.node_id = node_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.role = self.role
        record.node_id = self.node_id
        record.trace_id = trace_id.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, role, node_id[, trace_id][, exc]."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "role": getattr(record, "role", None),
            "node_id": getattr(record, "node_id", None),
        }
        trace = getattr(record, "trace_id", None)
        if trace:
            entry["trace_id"] = trace
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``ts LEVEL [role:node_id] logger: msg [trace=...]`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        node = getattr(record, "node_id", None)
        who = getattr(record, "role", None) or "-"
        if node is not None:
            who = f"{who}:{node}"
        line = f"{_timestamp(record)} {record.levelname:<7} [{who}] {record.name}: {record.getMessage()}"
        trace = getattr(record, "trace_id", None)
        if trace:
            line += f" trace={trace}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def parse_level(level: str) -> int:
    """The stdlib level of a config level name; ValueError when unknown."""
    level_no = LEVELS.get(level.strip().lower())
    if level_no is None:
        raise ValueError(f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})")
    return level_no


def check_format(fmt: str) -> None:
    """ValueError unless ``fmt`` is a known log format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (expected one of {', '.join(FORMATS)})")


def setup_logging(
    level: str,
    fmt: str,
    role: str,
    node_id: int | None = None,
    stream: IO[str] | None = None,
) -> LogContext:
    """Route every logger to one stream handler (stderr by default) in ``fmt`` at ``level``.

    Returns the context stamped on records; set its ``node_id`` once the session has one.
    Calling again replaces the handler installed before.  Raises ValueError for an unknown
    level or format.
    """
    level_no = parse_level(level)
    check_format(fmt)
    context = LogContext(role, node_id)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(context)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level_no)
    return context
