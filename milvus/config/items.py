"""Every setting, declared once: key, type, default and what it does.

``configs/milvus.yaml`` is rendered from these declarations (``milvus config render``) and a
test keeps the two in sync.  Keys follow Milvus' own ``milvus.yaml`` names where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    key: str
    type: type
    default: Any
    doc: str
    # for list-typed items, the element type
    elem: type | None = None

    @property
    def env_var(self) -> str:
        return "MILVUS_" + self.key.upper().replace(".", "_")


ITEMS: tuple[Item, ...] = (
    # --- common ----------------------------------------------------------------------
    Item("common.dataDir", str, "milvus_data",
         "Root directory for everything the embedded backends keep on disk (meta store, message log, objects)."),
    Item("common.clusterPrefix", str, "by-dev",
         "Prefix shared by every key, channel and session of one cluster."),
    Item("common.storageType", str, "local", "Object storage backend: 'local' (a directory) or 'minio' (any S3)."),
    Item("common.session.ttl", float, 30.0, "Seconds a node's session lease lives without a keepalive."),
    Item("common.session.keepaliveInterval", float, 3.0, "Seconds between session lease keepalives."),
    Item("common.gracefulStopTimeout", float, 30.0, "Seconds a role may take to stop cleanly on SIGTERM."),
    Item("common.rpc.retryTimeout", float, 60.0,
         "Seconds a call to another role keeps retrying while that role is unreachable or not registered "
         "(restarting, not started yet)."),
    # --- meta store ------------------------------------------------------------------
    Item("metastore.type", str, "local", "Meta store backend: 'local' (embedded SQLite file) or 'etcd'."),
    Item("etcd.endpoints", list, ["127.0.0.1:2379"], "etcd client endpoints (host:port).", elem=str),
    Item("etcd.rootPath", str, "by-dev", "Root of every key this cluster keeps in etcd."),
    Item("etcd.metaSubPath", str, "meta", "Sub path (under rootPath) of the metadata keys."),
    Item("etcd.kvSubPath", str, "kv", "Sub path (under rootPath) of the other keys (sessions, checkpoints)."),
    Item("etcd.requestTimeout", float, 10.0, "Seconds before an etcd request fails."),
    # --- message queue ---------------------------------------------------------------
    Item("mq.type", str, "local", "Message queue backend: 'local' (embedded log on disk), 'pulsar' or 'nats'."),
    Item("localMQ.segmentBytes", int, 64 * 1024 * 1024, "Size at which the embedded log rolls to a new segment file."),
    Item("localMQ.syncWrites", bool, True, "fsync the embedded log before a send is acknowledged."),
    Item("pulsar.address", str, "pulsar://127.0.0.1:6650", "Pulsar service URL."),
    Item("pulsar.tenant", str, "public", "Pulsar tenant of the channels."),
    Item("pulsar.namespace", str, "default", "Pulsar namespace of the channels."),
    Item("pulsar.maxMessageSize", int, 5 * 1024 * 1024, "Largest message sent to Pulsar, in bytes."),
    Item("nats.url", str, "nats://127.0.0.1:4222", "NATS server URL (JetStream must be enabled)."),
    Item("nats.maxMessageSize", int, 1024 * 1024, "Largest message sent to NATS, in bytes."),
    # --- object storage --------------------------------------------------------------
    Item("minio.address", str, "127.0.0.1:9000", "S3 endpoint host:port."),
    Item("minio.accessKeyID", str, "minioadmin", "S3 access key."),
    Item("minio.secretAccessKey", str, "minioadmin", "S3 secret key."),
    Item("minio.useSSL", bool, False, "Use HTTPS to reach the S3 endpoint."),
    Item("minio.bucketName", str, "a-bucket", "Bucket that holds every object of this cluster."),
    Item("minio.rootPath", str, "files", "Prefix (inside the bucket) of every object of this cluster."),
    Item("minio.region", str, "", "S3 region; empty lets the client discover it."),
    # --- clocks and ids --------------------------------------------------------------
    Item("tso.saveInterval", float, 3.0,
         "Seconds of timestamps reserved ahead in the meta store, so that a restart never goes back."),
    Item("idAllocator.batchSize", int, 10000, "IDs reserved in the meta store at a time."),
    # --- ports -----------------------------------------------------------------------
    Item("proxy.port", int, 19530, "Public gRPC port (MilvusService)."),
    Item("proxy.internalPort", int, 19529, "Internal gRPC port of the proxy."),
    Item("proxy.grpc.activeWorkers", int, 0,
         "Public calls a proxy runs at once before a call waits for a busy worker (a call running "
         "20 ms no longer counts; a call waiting 20 ms gets a worker of its own, up to the pool's "
         "size); 0: twice the CPU cores."),
    Item("proxy.timeTickInterval", float, 0.2,
         "Seconds between the proxy's time ticks on the DML channels (bounds Strong read latency)."),
    Item("common.gracefulTime", int, 5000, "Milliseconds of staleness a Bounded read accepts."),
    Item("common.retentionDuration", float, 432000.0,
         "Seconds of history kept for time travel: a search or query at an older timestamp is refused."),
    Item("proxy.maxTopK", int, 16384, "Largest offset + limit of one search."),
    Item("common.security.authorizationEnabled", bool, False,
         "Authenticate every public request (user and password, as pymilvus sends them) and check the user's "
         "privileges (root and the admin role may do everything)."),
    Item("proxy.accessCacheSeconds", float, 5.0,
         "Seconds a proxy trusts a verified password and a user's roles and grants before asking the root "
         "coordinator again (changes made through the same proxy apply at once)."),
    Item("queryNode.readTimeout", float, 30.0, "Seconds a read waits for the query node's tsafe."),
    Item("queryCoord.autoBalance", bool, True,
         "Move channels between the query nodes of a replica: to a node that joins, off a node that stops."),
    Item("queryNode.gracefulStopTimeout", float, 20.0,
         "Seconds a stopping query node waits for the query coordinator to move its channels elsewhere "
         "(keep it below common.gracefulStopTimeout)."),
    Item("rootCoord.port", int, 53100, "Internal gRPC port of the root coordinator."),
    Item("dataCoord.port", int, 13333, "Internal gRPC port of the data coordinator."),
    Item("queryCoord.port", int, 19531, "Internal gRPC port of the query coordinator."),
    Item("rootCoord.enableActiveStandby", bool, False,
         "Run as a candidate: the instance holding session/rootcoord serves, a second one waits as standby."),
    Item("dataCoord.enableActiveStandby", bool, False,
         "Run as a candidate: the instance holding session/datacoord serves, a second one waits as standby."),
    Item("queryCoord.enableActiveStandby", bool, False,
         "Run as a candidate: the instance holding session/querycoord serves, a second one waits as standby."),
    Item("dataNode.port", int, 21124, "Internal gRPC port of a data node."),
    Item("queryNode.port", int, 21123, "Internal gRPC port of a query node."),
    Item("indexNode.port", int, 21121, "Internal gRPC port of an index node."),
    Item("metrics.port", int, 9091, "HTTP port serving /metrics (Prometheus) and /healthz."),
    Item("metrics.address", str, "0.0.0.0", "Address the metrics/health HTTP server binds."),
    Item("grpc.address", str, "0.0.0.0", "Address the gRPC servers bind."),
    Item("grpc.serverMaxRecvSize", int, 512 * 1024 * 1024, "Largest gRPC request accepted, in bytes."),
    Item("grpc.serverMaxSendSize", int, 512 * 1024 * 1024, "Largest gRPC response sent, in bytes."),
    # --- channels --------------------------------------------------------------------
    Item("rootCoord.dmlChannelNum", int, 16, "Number of physical DML channels (topics) in the pool."),
    Item("common.chanNamePrefix.rootCoordDml", str, "rootcoord-dml", "Name prefix of the physical DML channels."),
    # --- DDL limits and defaults -----------------------------------------------------
    Item("common.defaultPartitionName", str, "_default", "Name of the partition every collection is created with."),
    Item("proxy.maxNameLength", int, 255, "Longest collection, alias, partition or database name."),
    Item("proxy.maxShardNum", int, 16, "Most shards (DML virtual channels) one collection may have."),
    Item("proxy.maxFieldNum", int, 64, "Most fields one collection schema may have."),
    Item("proxy.maxVectorFieldNum", int, 10, "Most vector fields one collection schema may have."),
    Item("rootCoord.maxDatabaseNum", int, 64, "Most databases, the default one included."),
    Item("rootCoord.maxPartitionNum", int, 1024, "Most partitions one collection may have."),
    Item("rootCoord.dropRemindInterval", float, 60.0,
         "Seconds between the reminders logged while finishing a drop keeps failing (the first failure "
         "logs a warning, the others only this reminder, the success one info line)."),
    Item("quotaAndLimits.limits.maxCollectionNum", int, 65536, "Most collections in the whole cluster."),
    Item("quotaAndLimits.limits.maxCollectionNumPerDB", int, 65536, "Most collections in one database."),
    # --- flow control of writes (milvus/proxy/quota.py) ---------------------------------
    Item("quotaAndLimits.enabled", bool, True, "Flow control of inserts, upserts and deletes (the guards below)."),
    Item("quotaAndLimits.quotaCenterCollectInterval", float, 3.0,
         "Seconds between a proxy's looks at data node time ticks and node memory, and between data node "
         "memory reports; a memory report older than 10 intervals no longer counts."),
    Item("quotaAndLimits.limitWriting.ttProtection.enabled", bool, False,
         "Refuse writes (RateLimit) to a collection whose data nodes lag behind the newest time tick."),
    Item("quotaAndLimits.limitWriting.ttProtection.maxTimeTickDelay", float, 300.0,
         "Seconds a channel's consumed checkpoint may lag the present before its collection's writes are refused."),
    Item("quotaAndLimits.limitWriting.memProtection.enabled", bool, True,
         "Refuse writes (RateLimit) while a data or query node's memory in use passes its high water level."),
    Item("quotaAndLimits.limitWriting.memProtection.dataNodeMemoryLowWaterLevel", float, 0.85,
         "Fraction of a data node's memory in use below which writes it refused are accepted again."),
    Item("quotaAndLimits.limitWriting.memProtection.dataNodeMemoryHighWaterLevel", float, 0.95,
         "Fraction of a data node's memory in use from which writes are refused."),
    Item("quotaAndLimits.limitWriting.memProtection.queryNodeMemoryLowWaterLevel", float, 0.85,
         "Fraction of a query node's memory in use below which writes it refused are accepted again."),
    Item("quotaAndLimits.limitWriting.memProtection.queryNodeMemoryHighWaterLevel", float, 0.95,
         "Fraction of a query node's memory in use from which writes are refused."),
    Item("quotaAndLimits.dml.enabled", bool, False, "Apply the static DML rates below."),
    Item("quotaAndLimits.dml.insertRate.max", float, -1.0,
         "Most MB/s of inserts and upserts one proxy accepts (<= 0: no limit)."),
    Item("quotaAndLimits.dml.deleteRate.max", float, -1.0, "Most MB/s of deletes one proxy accepts (<= 0: no limit)."),
    # --- data coordinator: segments, flush, garbage collection ------------------------
    Item("dataCoord.segment.maxRows", int, 1_000_000, "Most rows one segment is allocated."),
    Item("dataCoord.segment.sealProportion", float, 0.9,
         "A growing segment is sealed (gets no new allocations) once this fraction of maxRows is allocated."),
    Item("dataCoord.segment.assignmentExpiration", int, 2000,
         "Milliseconds a segment assignment stays valid: rows sent under it must carry a smaller timestamp."),
    Item("dataCoord.segment.maxLife", float, 86400.0, "Seconds after which a growing segment is sealed."),
    Item("dataCoord.segment.flushRetryInterval", float, 10.0,
         "Seconds between re-sending FlushSegments for sealed segments that are not flushed yet."),
    Item("dataCoord.tickInterval", float, 1.0, "Seconds between the data coordinator's background checks."),
    Item("dataCoord.gc.interval", float, 3600.0, "Seconds between garbage collections of object-store files."),
    Item("dataCoord.gc.dropTolerance", float, 10800.0,
         "Seconds a dropped segment's files are kept before garbage collection removes them."),
    Item("dataCoord.gc.missingTolerance", float, 3600.0,
         "Seconds an object-store file no segment references is kept before it is removed."),
    Item("dataCoord.import.taskRetention", float, 10800.0,
         "Seconds a finished (completed or failed) bulk insert job stays listed before it is forgotten."),
    Item("dataCoord.import.stallTimeout", float, 1800.0,
         "Seconds a running bulk insert job may go without its proxy reporting progress before it is marked "
         "failed (its proxy is taken to be gone; the rows inserted so far stay)."),
    Item("dataCoord.enableAutoCompaction", bool, True,
         "Plan compactions periodically (merging small segments, purging deletes, folding L0 segments)."),
    Item("dataCoord.compaction.global.interval", float, 60.0, "Seconds between automatic compaction triggers."),
    Item("dataCoord.compaction.timeout", float, 900.0,
         "Seconds a compaction plan may run on a data node before it is failed (nothing is committed)."),
    Item("dataCoord.segment.smallProportion", float, 0.5,
         "A flushed segment with fewer rows than this fraction of dataCoord.segment.maxRows is small "
         "(merged with others by compaction)."),
    Item("dataCoord.compaction.min.segment", int, 3,
         "Small segments of a partition needed for an automatic merge (a manual compaction merges two)."),
    Item("dataCoord.compaction.levelzero.forceTrigger.deltalogMinNum", int, 10,
         "L0 delete segments of a channel needed before automatic compaction folds them into its segments."),
    Item("dataCoord.compaction.single.ratio.threshold", float, 0.2,
         "Deleted fraction (by a segment's own delta logs) above which a segment is rewritten alone."),
    # --- data node: buffering and sync ------------------------------------------------
    Item("dataNode.sync.maxBufferRows", int, 100_000,
         "Rows buffered for one segment (or deletes for one channel) before they are written to object storage."),
    Item("dataNode.sync.maxBufferSize", int, 16 * 1024 * 1024,
         "Bytes buffered for one segment (or deletes for one channel) before they are written to object storage."),
    Item("dataNode.sync.maxBufferAge", float, 600.0,
         "Seconds a buffer may wait before it is written to object storage (bounds replay after a crash)."),
    # --- indexes ---------------------------------------------------------------------
    Item("indexCoord.segment.minSegmentNumRowsToEnableIndex", int, 1024,
         "Segments with fewer rows get no index built: they are searched exactly."),
    Item("dataCoord.index.checkInterval", float, 1.0,
         "Seconds between the data coordinator's index build rounds (also run on every change)."),
    Item("indexNode.scheduler.buildParallel", int, 1, "Index builds one index node runs at the same time."),
    Item("dataNode.checkpoint.updateInterval", float, 10.0,
         "Seconds between channel checkpoint reports while a channel has nothing to write."),
    # --- logging ---------------------------------------------------------------------
    Item("log.level", str, "info", "Log level: debug, info, warning, error."),
    Item("log.format", str, "text", "Log format: 'text' or 'json'."),
    # --- tracing -------------------------------------------------------------------
    Item("trace.exporter", str, "noop",
         "Where request spans go: 'noop' (or 'none': tracing off, OpenTelemetry never loaded), 'stdout' "
         "or 'otlp' (to trace.otlp.endpoint, e.g. Jaeger's OTLP port; needs the 'tracing' extra)."),
    Item("trace.sampleFraction", float, 1.0,
         "Fraction of requests traced when tracing is on (a request's roles follow its first one's choice)."),
    Item("trace.otlp.endpoint", str, "127.0.0.1:4317", "OTLP/gRPC collector endpoint (host:port)."),
    Item("trace.otlp.secure", bool, False, "Use TLS to reach the OTLP collector."),
)

ITEMS_BY_KEY: dict[str, Item] = {item.key: item for item in ITEMS}
