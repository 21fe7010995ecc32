"""Mapping channel and subscription names onto what a backend accepts (file names, NATS names)."""

from __future__ import annotations

from milvus.mq.base import MQError

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def escape_name(name: str, max_len: int = 200) -> str:
    """An injective, filesystem- and NATS-safe spelling of ``name``.

    Letters, digits, ``-`` and ``_`` stay; every other byte of the UTF-8 encoding becomes
    ``%XX`` (so ``.``, ``*``, ``>``, ``/`` and spaces never appear, and ``%`` itself is escaped).
    """
    if not isinstance(name, str) or not name:
        raise MQError(f"invalid name {name!r}: must be a non-empty string")
    out = []
    for ch in name:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    escaped = "".join(out)
    if len(escaped) > max_len:
        raise MQError(f"name {name!r} is too long ({len(escaped)} > {max_len} characters once escaped)")
    return escaped


def check_properties(properties: object) -> dict[str, str]:
    """Properties as a plain ``dict[str, str]``; anything else is a caller error."""
    if properties is None:
        return {}
    try:
        items = dict(properties)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise MQError(f"properties must be a mapping of str to str, not {type(properties).__name__}") from None
    for key, value in items.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise MQError(f"properties must map str to str; got {key!r}: {value!r}")
    return items
