"""JSON parsing for row values: orjson when installed (pymilvus 2.5+ brings it), else stdlib."""

from __future__ import annotations

import json

try:  # orjson is several times faster on the many small documents rows carry
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the installed client version
    _orjson = None


def loads(data: bytes) -> object:
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)


def dumps(value: object) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


JSONDecodeError = ValueError  # both libraries raise a ValueError subclass
