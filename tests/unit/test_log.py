"""setup_logging: text and JSON lines with role, node id and trace id."""

from __future__ import annotations

import io
import json
import logging

import pytest

from milvus.util.log import setup_logging, trace_id


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_json_lines(restore_root_logger):
    stream = io.StringIO()
    context = setup_logging("info", "json", "querynode", stream=stream)
    log = logging.getLogger("milvus.test")
    log.debug("hidden")
    log.info("hello %s", "world")
    context.node_id = 7
    token = trace_id.set("abc123")
    try:
        log.warning("traced")
    finally:
        trace_id.reset(token)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["msg"] for entry in lines] == ["hello world", "traced", "failed"]
    first, traced, failed = lines
    assert first["level"] == "info" and first["logger"] == "milvus.test"
    assert first["role"] == "querynode" and first["node_id"] is None
    assert "trace_id" not in first
    assert first["ts"].endswith("Z")
    assert traced["node_id"] == 7 and traced["trace_id"] == "abc123"
    assert "ValueError: boom" in failed["exc"]


def test_text_lines_and_replacing_the_handler(restore_root_logger):
    first = io.StringIO()
    setup_logging("debug", "text", "proxy", node_id=3, stream=first)
    second = io.StringIO()
    setup_logging("warning", "text", "proxy", node_id=3, stream=second)
    log = logging.getLogger("milvus.test")
    log.info("quiet")
    log.error("loud")
    assert first.getvalue() == ""
    line = second.getvalue().strip()
    assert " ERROR " in line and "[proxy:3] milvus.test: loud" in line


@pytest.mark.parametrize(("level", "fmt"), [("chatty", "text"), ("info", "xml")])
def test_bad_level_or_format(level, fmt):
    with pytest.raises(ValueError):
        setup_logging(level, fmt, "proxy")
