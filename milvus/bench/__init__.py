"""``milvus bench``: the workloads of a vector database measured through pymilvus against a
server (ours, started here, or any ``--uri``), beside the in-process ceiling (the same index
built and searched with faiss/hnswlib in this process) and optional peers (milvus-lite, real
Milvus) in the same run.  Not a test: prints a table, writes JSON and, on request, the
results section of BENCHMARKS.md.

Modules: ``data`` (seeded data set, cached exact ground truth), ``servers`` (start ours or a
peer, process-tree RSS), ``workloads`` (the pymilvus side), ``ceiling`` (in-process faiss /
hnswlib), ``report`` (table, JSON, markdown), ``main`` (the command line).
"""
