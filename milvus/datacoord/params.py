"""The data coordinator's settings, read once from the config by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from milvus.config import Config


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
    enable_auto_compaction: bool = True
    compaction_interval: float = 60.0
    compaction_timeout: float = 900.0
    compaction_small_proportion: float = 0.5
    compaction_min_segments: int = 3
    compaction_l0_min_num: int = 10
    compaction_delete_ratio: float = 0.2

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
            enable_auto_compaction=config["dataCoord.enableAutoCompaction"],
            compaction_interval=config["dataCoord.compaction.global.interval"],
            compaction_timeout=config["dataCoord.compaction.timeout"],
            compaction_small_proportion=config["dataCoord.segment.smallProportion"],
            compaction_min_segments=config["dataCoord.compaction.min.segment"],
            compaction_l0_min_num=config["dataCoord.compaction.levelzero.forceTrigger.deltalogMinNum"],
            compaction_delete_ratio=config["dataCoord.compaction.single.ratio.threshold"],
        )
