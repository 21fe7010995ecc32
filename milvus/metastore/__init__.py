"""Typed catalogs over the meta store: the only code that knows the key layouts."""

from milvus.metastore.rootcoord_catalog import MetaConflict, RootCoordCatalog

__all__ = ["MetaConflict", "RootCoordCatalog"]
