"""Serving and calling the internal services, driven by their protobuf service descriptors.

A role's logic object has one method per RPC, named as in the .proto, taking and returning
the generated messages.  ``service_handler`` serves such an object over gRPC;
``GrpcClient`` calls a remote one with the same method names; ``LocalClient`` calls an
in-process one (standalone), so callers cannot tell the two apart.  ``ResolvingClient`` is a
``GrpcClient`` whose address is looked up on use (service discovery) and followed when it moves.
"""

from milvus.rpc.client import GrpcClient, LocalClient, RpcError
from milvus.rpc.resolving import ResolvingClient
from milvus.rpc.server import GrpcServer, WrapInterceptor, service_handler

__all__ = ["GrpcClient", "GrpcServer", "LocalClient", "ResolvingClient", "RpcError", "service_handler", "WrapInterceptor"]
