"""The data coordinator's settings, read once from the config by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from milvus.config import Config
from milvus.datacoord.compaction import CompactionParams


@dataclass(frozen=True)
class DataCoordParams:
    segment_max_rows: int = 1_000_000
    seal_proportion: float = 0.9
    assignment_expiration_ms: int = 2000
    segment_max_life: float = 86400.0
    flush_retry_interval: float = 10.0
    tick_interval: float = 1.0
    gc_interval: float = 3600.0
    gc_drop_tolerance: float = 10800.0
    gc_missing_tolerance: float = 3600.0
    import_retention: float = 10800.0
    import_stall_timeout: float = 1800.0
    # seconds after start that the channels of a data node live then (``DataCoord.expect_data_nodes``)
    # wait for it to register before they go to other nodes
    node_grace: float = 10.0
    # its max_rows is segment_max_rows (the data coordinator sets it)
    compaction: CompactionParams = field(default_factory=CompactionParams)

    def __post_init__(self) -> None:
        if self.segment_max_rows < 1:
            raise ValueError(f"dataCoord.segment.maxRows must be >= 1, got {self.segment_max_rows}")
        if not 0 < self.seal_proportion <= 1:
            raise ValueError(f"dataCoord.segment.sealProportion must be in (0, 1], got {self.seal_proportion}")
        if self.assignment_expiration_ms < 0:
            raise ValueError("dataCoord.segment.assignmentExpiration must be >= 0")

    @classmethod
    def from_config(cls, config: Config) -> DataCoordParams:
        return cls(
            segment_max_rows=config["dataCoord.segment.maxRows"],
            seal_proportion=config["dataCoord.segment.sealProportion"],
            assignment_expiration_ms=config["dataCoord.segment.assignmentExpiration"],
            segment_max_life=config["dataCoord.segment.maxLife"],
            flush_retry_interval=config["dataCoord.segment.flushRetryInterval"],
            tick_interval=config["dataCoord.tickInterval"],
            gc_interval=config["dataCoord.gc.interval"],
            gc_drop_tolerance=config["dataCoord.gc.dropTolerance"],
            gc_missing_tolerance=config["dataCoord.gc.missingTolerance"],
            import_retention=config["dataCoord.import.taskRetention"],
            import_stall_timeout=config["dataCoord.import.stallTimeout"],
            compaction=CompactionParams(
                enable_auto=config["dataCoord.enableAutoCompaction"],
                interval=config["dataCoord.compaction.global.interval"],
                timeout=config["dataCoord.compaction.timeout"],
                small_proportion=config["dataCoord.segment.smallProportion"],
                min_segments=config["dataCoord.compaction.min.segment"],
                l0_min_num=config["dataCoord.compaction.levelzero.forceTrigger.deltalogMinNum"],
                delete_ratio=config["dataCoord.compaction.single.ratio.threshold"]),
        )
