"""The proxy role: the public MilvusService front door, its meta cache and DDL path."""

from milvus.proxy.proxy import Proxy, ProxyParams
from milvus.proxy.service import MILVUS_SERVICE, CallInfo, MilvusServiceAdapter

__all__ = ["MILVUS_SERVICE", "CallInfo", "MilvusServiceAdapter", "Proxy", "ProxyParams"]
