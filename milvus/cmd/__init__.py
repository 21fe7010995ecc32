"""The composition root: builds each role's process from the config, and the ``milvus`` CLI."""
