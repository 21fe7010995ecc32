"""The settings the root coordinator reads, taken from the config once."""

from __future__ import annotations

from dataclasses import dataclass, field

from milvus.config import Config
from milvus.schema import DEFAULT_LIMITS, SchemaLimits

DEFAULT_PARTITIONS_WITH_PARTITION_KEY = 16  # Milvus common.DefaultPartitionsWithPartitionKey


@dataclass(frozen=True)
class RootCoordParams:
    cluster_prefix: str = "by-dev"
    dml_channel_prefix: str = "rootcoord-dml"
    dml_channel_num: int = 16
    default_partition: str = "_default"
    max_databases: int = 64
    max_partitions: int = 1024
    max_collections: int = 65536
    max_collections_per_db: int = 65536
    max_shards: int = 16
    schema_limits: SchemaLimits = field(default_factory=lambda: DEFAULT_LIMITS)
    # merged time ticks (milvus/rootcoord/timetick.py): the round interval, and how long a
    # proxy that reported may go without a session before the ticks stop waiting for it
    time_tick_interval: float = 0.2
    session_ttl: float = 30.0
    # how often a drop that could not be finished (milvus/rootcoord/drops.py) is tried again,
    # how long one of its calls to another coordinator may take, and how often a drop that
    # keeps failing is logged again
    drop_retry_interval: float = 1.0
    drop_call_timeout: float = 10.0
    drop_remind_interval: float = 60.0

    @classmethod
    def from_config(cls, config: Config) -> RootCoordParams:
        return cls(
            cluster_prefix=config["common.clusterPrefix"],
            dml_channel_prefix=config["common.chanNamePrefix.rootCoordDml"],
            dml_channel_num=config["rootCoord.dmlChannelNum"],
            default_partition=config["common.defaultPartitionName"],
            max_databases=config["rootCoord.maxDatabaseNum"],
            max_partitions=config["rootCoord.maxPartitionNum"],
            max_collections=config["quotaAndLimits.limits.maxCollectionNum"],
            max_collections_per_db=config["quotaAndLimits.limits.maxCollectionNumPerDB"],
            max_shards=config["proxy.maxShardNum"],
            time_tick_interval=config["proxy.timeTickInterval"],
            session_ttl=config["common.session.ttl"],
            drop_remind_interval=config["rootCoord.dropRemindInterval"],
            schema_limits=SchemaLimits(
                max_name_length=config["proxy.maxNameLength"],
                max_field_num=config["proxy.maxFieldNum"],
                max_vector_field_num=config["proxy.maxVectorFieldNum"],
            ),
        )
