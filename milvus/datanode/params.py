"""The data node's settings, read once from the config by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from milvus.config import Config


@dataclass(frozen=True)
class DataNodeParams:
    max_buffer_rows: int = 100_000
    max_buffer_size: int = 16 * 1024 * 1024
    max_buffer_age: float = 600.0
    checkpoint_interval: float = 10.0
    # seconds a consumer waits for a message before it looks at flush requests and timers
    poll_timeout: float = 0.1
    # seconds to wait before retrying a sync that failed (storage or data coordinator down)
    retry_backoff: float = 1.0
    # seconds between reports of this node's memory to the data coordinator (flow control)
    memory_report_interval: float = 3.0

    def __post_init__(self) -> None:
        if self.max_buffer_rows < 1 or self.max_buffer_size < 1:
            raise ValueError("dataNode.sync.maxBufferRows and maxBufferSize must be >= 1")

    @classmethod
    def from_config(cls, config: Config) -> DataNodeParams:
        return cls(
            max_buffer_rows=config["dataNode.sync.maxBufferRows"],
            max_buffer_size=config["dataNode.sync.maxBufferSize"],
            max_buffer_age=config["dataNode.sync.maxBufferAge"],
            checkpoint_interval=config["dataNode.checkpoint.updateInterval"],
            # as often as the proxies' quota guards collect
            memory_report_interval=config["quotaAndLimits.quotaCenterCollectInterval"],
        )
