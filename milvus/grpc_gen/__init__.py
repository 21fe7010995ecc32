"""The public Milvus protocol (``common_pb2``, ``schema_pb2``, ``milvus_pb2``, ``msg_pb2``,
``rg_pb2``, ``feder_pb2``, ``milvus_pb2_grpc``): the modules pymilvus ships as
``pymilvus.grpc_gen``, imported from pymilvus' directory without importing the pymilvus client.

Importing ``pymilvus.grpc_gen`` first runs ``pymilvus/__init__``, which loads the whole client
(pandas, requests, ...): 56 MB resident and about 0.4 s for a server that needs only the
messages.  This package's ``__path__`` is pymilvus' ``grpc_gen`` directory, so
``milvus.grpc_gen.common_pb2`` is pymilvus' own file (its imports are relative), and nothing
else of pymilvus runs.

Both names may be imported in one process (a test with a client and a server): protobuf adds an
identical file to the descriptor pool once and makes one class per message type, so
``milvus.grpc_gen.common_pb2.Status is pymilvus.grpc_gen.common_pb2.Status``.
"""

import importlib.util
import os

_pymilvus = importlib.util.find_spec("pymilvus")  # finds the package without importing it
if _pymilvus is None or not _pymilvus.submodule_search_locations:
    raise ImportError("the public protocol comes from pymilvus (pymilvus.grpc_gen): install pymilvus")
__path__ = [os.path.join(location, "grpc_gen") for location in _pymilvus.submodule_search_locations]
