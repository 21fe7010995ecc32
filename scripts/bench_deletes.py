"""Reads under many deletes: search latency through a shard leader that delegates half of the
sealed segments to a worker, and on one node holding every segment ("local"), plus the bytes
the leader sends the worker per read.  Not a test.

    python scripts/bench_deletes.py [--rows 1000000] [--deletes 1000000] [--reads 20]

Rows: ``--rows`` keys in four sealed segments (two on the leader, two on the worker, all four
on the local node).  Deletes: ``--deletes`` keys (every even key, so about half hit rows)
streamed through the channel before the reads.  Workloads:

* static: the deletes stay as they are between reads;
* streaming: ``--stream`` more deletes (and a time tick) arrive before every read.

The worker is called through serialized messages (as over gRPC): "bytes/read" is the size of
the leader's requests to it.  Times are medians in ms, with the first read (cold) apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, schema_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from milvus._proto import datacoord_pb2, msgstream_pb2, querynode_pb2  # noqa: E402
from milvus.binlog import insert_log_key, write_insert_log  # noqa: E402
from milvus.mq.local import LocalMQ  # noqa: E402
from milvus.querynode import QueryNode  # noqa: E402
from milvus.schema import CollectionSchemaModel, arrow_to_ids, normalize_schema  # noqa: E402
from milvus.storage.local import LocalStorage  # noqa: E402

DIM = 16
COLL, PART = 1, 10
PCH = "by-dev-rootcoord-dml_0"
VCH = f"{PCH}_{COLL}v0"
LEADER, WORKER, LOCAL = 1, 2, 3
SEGMENTS = 4
ROW_TS = 100


def make_schema() -> CollectionSchemaModel:
    fields = [
        schema_pb2.FieldSchema(name="pk", is_primary_key=True, data_type=schema_pb2.Int64),
        schema_pb2.FieldSchema(name="vec", data_type=schema_pb2.FloatVector,
                               type_params=[common_pb2.KeyValuePair(key="dim", value=str(DIM))]),
    ]
    return CollectionSchemaModel(normalize_schema(schema_pb2.CollectionSchema(name="bench", fields=fields)))


class Worker:
    """A client of a query node that serializes requests and answers, counting request bytes."""

    def __init__(self, node: QueryNode):
        self.node = node
        self.sent: list[int] = []

    def __getattr__(self, method: str):
        def call(request, timeout=None):
            data = request.SerializeToString()
            self.sent.append(len(data))
            response = getattr(self.node, method)(type(request).FromString(data))
            return type(response).FromString(response.SerializeToString())
        return call


class Cluster:
    def __init__(self, root: Path, rows: int):
        self.mq = LocalMQ(root / "mq", sync=False)
        self.storage = LocalStorage(root / "storage")
        self.schema = make_schema()
        self.nodes = {i: QueryNode(i, self.mq, self.storage, read_timeout=60.0, peer=self.peer)
                      for i in (LEADER, WORKER, LOCAL)}
        for node in self.nodes.values():
            node.start()
        self.worker = Worker(self.nodes[WORKER])
        self.producer = self.mq.create_producer(PCH)
        rng = np.random.default_rng(7)
        per = rows // SEGMENTS
        infos = [self.sealed(s + 1, np.arange(s * per, (s + 1) * per), rng) for s in range(SEGMENTS)]
        for node_id in (LEADER, LOCAL):
            info = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH,
                                              flushedSegmentIds=[i.id for i in infos])
            self.check(self.nodes[node_id].WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
                vchannel=info, schema=self.schema.proto.SerializeToString())))
        self.load(LEADER, infos[:2])
        self.load(WORKER, infos[2:])
        self.load(LOCAL, infos)
        self.check(self.nodes[LEADER].SyncDistribution(querynode_pb2.SyncDistributionRequest(
            collectionID=COLL, channel=VCH,
            sealed=[querynode_pb2.SegmentLocation(segmentID=i.id, partitionID=PART, node_id=LEADER if k < 2 else WORKER,
                                                  num_rows=i.num_of_rows) for k, i in enumerate(infos)])))
        self.ts = ROW_TS

    @staticmethod
    def check(status) -> None:
        if status.code != 0:
            raise RuntimeError(status.reason)

    def peer(self, node_id: int, _address: str) -> Worker:
        assert node_id == WORKER
        return self.worker

    def sealed(self, segment: int, keys: np.ndarray, rng) -> datacoord_pb2.SegmentInfo:
        n = len(keys)
        vecs = rng.standard_normal((n, DIM)).astype(np.float32)
        cols = {"_row_id": pa.array(keys.astype(np.int64)), "_ts": pa.array(np.full(n, ROW_TS, np.uint64)),
                "pk": pa.array(keys.astype(np.int64)),
                "vec": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), DIM)}
        batch = pa.RecordBatch.from_arrays([cols[f.name].cast(f.type) for f in self.schema.arrow_schema],
                                           schema=self.schema.arrow_schema)
        path = insert_log_key(COLL, PART, segment, segment * 10)
        self.storage.put(path, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=COLL, partition_id=PART, insert_channel=VCH,
                                         num_of_rows=n, state=datacoord_pb2.FLUSHED)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=n, log_path=path)
        return info

    def load(self, node_id: int, infos) -> None:
        self.check(self.nodes[node_id].LoadSegments(querynode_pb2.LoadSegmentsRequest(
            collectionID=COLL, segments=list(infos), schema=self.schema.proto.SerializeToString())))

    def delete(self, keys: np.ndarray) -> None:
        """One delete message of ``keys`` at the next timestamp, then a time tick after it."""
        self.ts += 1
        msg = msgstream_pb2.DeleteMsg(vchannel=VCH, collection_id=COLL, partition_id=-1,
                                      primary_keys=arrow_to_ids(pa.array(keys.astype(np.int64))),
                                      timestamps=np.full(len(keys), self.ts, np.uint64), num_rows=len(keys))
        self.producer.send(msgstream_pb2.Envelope(kind=msgstream_pb2.DELETE, begin_ts=self.ts, end_ts=self.ts,
                                                  delete=msg).SerializeToString(), {"vchannel": VCH})

    def tick(self) -> int:
        self.ts += 1
        self.producer.send(msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=self.ts, end_ts=self.ts,
                                                  time_tick=msgstream_pb2.TimeTickMsg(source="bench"))
                           .SerializeToString(), {"vchannel": ""})
        return self.ts

    def wait_tsafe(self, ts: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        for node_id in (LEADER, LOCAL):
            while True:
                dist = self.nodes[node_id].GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
                if dist.channels and dist.channels[0].tsafe >= ts:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tsafe of node {node_id} did not reach {ts}")
                time.sleep(0.01)

    def search(self, node_id: int, ts: int, query: np.ndarray) -> float:
        group = common_pb2.PlaceholderGroup(placeholders=[common_pb2.PlaceholderValue(
            tag="$0", type=common_pb2.PlaceholderType.FloatVector, values=[query.astype("<f4").tobytes()])])
        request = querynode_pb2.ShardRequest(collectionID=COLL, channels=[VCH], guarantee_ts=ts,
                                             placeholder_group=group.SerializeToString(), topk=10, nq=1,
                                             metric_type="L2", anns_field="vec")
        start = time.perf_counter()
        result = self.nodes[node_id].Search(request)
        elapsed = time.perf_counter() - start
        self.check(result.status)
        return elapsed

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.producer.close()
        self.mq.close()


def run(cluster: Cluster, reads: int, stream: int, rng) -> dict[str, float]:
    leader, local, sent = [], [], []
    next_key = 1  # odd keys: the streamed deletes hit rows the initial ones left
    for _ in range(reads):
        if stream:
            cluster.delete(np.arange(next_key, next_key + 2 * stream, 2))
            next_key += 2 * stream
        ts = cluster.tick()
        cluster.wait_tsafe(ts)
        query = rng.standard_normal(DIM).astype(np.float32)
        before = len(cluster.worker.sent)
        leader.append(cluster.search(LEADER, ts, query))
        sent.append(sum(cluster.worker.sent[before:]))
        local.append(cluster.search(LOCAL, ts, query))
    return {"leader first": leader[0] * 1e3, "leader ms": statistics.median(leader[1:]) * 1e3,
            "local first": local[0] * 1e3, "local ms": statistics.median(local[1:]) * 1e3,
            "bytes/read": statistics.median(sent[1:])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--deletes", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="deletes per channel message")
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--stream", type=int, default=100, help="deletes arriving before each streaming read")
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cluster = Cluster(Path(tmp), args.rows)
        try:
            keys = np.arange(args.deletes, dtype=np.int64) * 2
            for i in range(0, len(keys), args.batch):
                cluster.delete(keys[i:i + args.batch])
            cluster.wait_tsafe(cluster.tick())
            print(f"setup: {args.rows} rows, {args.deletes} deletes in {time.perf_counter() - start:.1f}s",
                  file=sys.stderr)
            results = {"static": run(cluster, args.reads, 0, rng),
                       f"streaming (+{args.stream}/read)": run(cluster, args.reads, args.stream, rng)}
        finally:
            cluster.close()
    columns = ["leader first", "leader ms", "local first", "local ms", "bytes/read"]
    print(f"{'workload':<24}" + "".join(f"{c:>14}" for c in columns))
    for name, row in results.items():
        print(f"{name:<24}" + "".join(f"{row[c]:>14.1f}" if c != "bytes/read" else f"{row[c]:>14,.0f}"
                                        for c in columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
