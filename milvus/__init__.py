"""A distributed, cloud-native vector database with the architecture of Milvus 2.x."""

__version__ = "0.1.0"
