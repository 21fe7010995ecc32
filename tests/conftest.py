"""Shared fixtures: real services on loopback (started lazily, once per run) and helpers.

A backend's tests skip with the reason when its service cannot be started, unless
MILVUS_TEST_REQUIRE_SERVICES=1 (the test command and CI set it), where that is a failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from milvus.localsvc import (
    EtcdService,
    NanioService,
    NatsService,
    PulsarLiteService,
    Service,
    ServiceUnavailable,
)

REQUIRE_SERVICES = os.environ.get("MILVUS_TEST_REQUIRE_SERVICES") == "1"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.02,
             message: str = "condition") -> object:
    """Poll ``condition`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def _start(service: Service) -> Service:
    try:
        return service.start()
    except ServiceUnavailable as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"{service.name} could not be started: {exc}")
        pytest.skip(f"{service.name} could not be started: {exc}")


@pytest.fixture(scope="session")
def etcd_service(tmp_path_factory) -> Iterator[EtcdService]:
    svc = _start(EtcdService(tmp_path_factory.mktemp("etcd")))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def nats_service(tmp_path_factory) -> Iterator[NatsService]:
    svc = _start(NatsService(tmp_path_factory.mktemp("nats")))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def pulsar_service(tmp_path_factory) -> Iterator[PulsarLiteService]:
    svc = _start(PulsarLiteService(tmp_path_factory.mktemp("pulsar")))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory) -> Iterator[NanioService]:
    svc = _start(NanioService(tmp_path_factory.mktemp("nanio")))
    yield svc
    svc.stop()
