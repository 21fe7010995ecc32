from milvus.config.config import Config, ConfigError, render_yaml
from milvus.config.items import ITEMS, Item

__all__ = ["Config", "ConfigError", "ITEMS", "Item", "render_yaml"]
