"""Loading the one Config object: declared defaults < YAML file < MILVUS_* env < explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from milvus.config.items import ITEMS, ITEMS_BY_KEY, Item


class ConfigError(ValueError):
    """A setting is unknown or its value cannot be read as the declared type."""


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            # a mapping is either a group of settings or (for no declared item) an error later
            if key in ITEMS_BY_KEY:
                flat[key] = value
            else:
                flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(item: Item, value: Any, source: str) -> Any:
    try:
        if item.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if item.type is list:
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, list | tuple):
                raise ValueError(f"not a list: {value!r}")
            elem = item.elem or str
            return [elem(v) for v in value]
        if item.type is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"not an integer: {value!r}")
        if item.type is int and isinstance(value, bool):
            raise ValueError(f"not an integer: {value!r}")
        return item.type(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: setting {item.key!r} expects {item.type.__name__}: {exc}") from None


class Config:
    """An immutable view of every setting; built once by the composition root and passed down."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Config:
        values = {item.key: item.default for item in ITEMS}
        if path is not None:
            with open(path, encoding="utf-8") as fh:
                tree = yaml.safe_load(fh) or {}
            if not isinstance(tree, Mapping):
                raise ConfigError(f"{path}: the top level must be a mapping")
            for key, value in _flatten(tree).items():
                item = ITEMS_BY_KEY.get(key)
                if item is None:
                    raise ConfigError(f"{path}: unknown setting {key!r}")
                values[key] = _coerce(item, value, str(path))
        if env is not None:
            for item in ITEMS:
                if item.env_var in env:
                    values[item.key] = _coerce(item, env[item.env_var], item.env_var)
        for key, value in (overrides or {}).items():
            item = ITEMS_BY_KEY.get(key)
            if item is None:
                raise ConfigError(f"override: unknown setting {key!r}")
            values[key] = _coerce(item, value, "override")
        return cls(values)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise ConfigError(f"unknown setting {key!r}") from None

    def get(self, key: str) -> Any:
        return self[key]

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        values = dict(self._values)
        for key, value in overrides.items():
            item = ITEMS_BY_KEY.get(key)
            if item is None:
                raise ConfigError(f"override: unknown setting {key!r}")
            values[key] = _coerce(item, value, "override")
        return Config(values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def section(self, prefix: str) -> dict[str, Any]:
        """Settings under ``prefix.`` with the prefix removed."""
        head = prefix + "."
        return {k[len(head):]: v for k, v in self._values.items() if k.startswith(head)}


def render_yaml() -> str:
    """The default YAML file, every setting with its doc as a comment, nested by key."""
    lines: list[str] = [
        "# Default configuration, rendered from milvus/config/items.py (`milvus config render`).",
        "# Every key may be overridden by an environment variable MILVUS_<KEY> (dots become",
        "# underscores, upper case), e.g. MILVUS_PROXY_PORT=19540.",
    ]
    open_path: list[str] = []
    for item in sorted(ITEMS, key=lambda i: i.key.split(".")):
        parts = item.key.split(".")
        common = 0
        while common < min(len(open_path), len(parts) - 1) and open_path[common] == parts[common]:
            common += 1
        open_path = open_path[:common]
        for depth in range(common, len(parts) - 1):
            if depth == 0:
                lines.append("")
            lines.append("  " * depth + parts[depth] + ":")
            open_path.append(parts[depth])
        indent = "  " * (len(parts) - 1)
        lines.append(f"{indent}# {item.doc}")
        dumped = yaml.safe_dump({parts[-1]: item.default}, default_flow_style=True, width=1000).strip()
        lines.append(indent + dumped[1:-1])
    return "\n".join(lines) + "\n"
