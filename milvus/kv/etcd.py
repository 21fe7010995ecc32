"""The meta store on an etcd v3 cluster, through pyetcd's gRPC channel and stubs.

pyetcd owns the channels (one per endpoint, with failover between them); the requests are
built here from its protobuf messages, so that every reply keeps its header revision and
every gRPC failure becomes a ``KVError`` in one place (``_rpc``).

Each watch is its own gRPC stream with one reader thread that converts the responses into
``Event``s on an unbounded queue; ``Watch.get`` reads that queue.  ``watch_prefix`` returns
once etcd has acknowledged the watch, so a write made after it returns is always seen.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import pyetcd
from pyetcd import etcdrpc

from milvus.kv.base import (
    KV,
    CompactedError,
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    Event,
    EventType,
    Get,
    KeyValue,
    KVError,
    Op,
    Put,
    TxnResult,
    Watch,
    prefix_end,
)

log = logging.getLogger(__name__)

_EVENT_DELETE = 1  # mvccpb.Event.EventType.DELETE
_COMPACTED_TEXT = "required revision has been compacted"
# an endpoint that failed is skipped this many seconds when there are others to try
_ENDPOINT_RETRY_S = 1.0

_TARGETS = {
    CompareTarget.VALUE: etcdrpc.Compare.VALUE,
    CompareTarget.MOD: etcdrpc.Compare.MOD,
    CompareTarget.CREATE: etcdrpc.Compare.CREATE,
    CompareTarget.VERSION: etcdrpc.Compare.VERSION,
}
_OPS = {
    CompareOp.EQUAL: etcdrpc.Compare.EQUAL,
    CompareOp.NOT_EQUAL: etcdrpc.Compare.NOT_EQUAL,
    CompareOp.LESS: etcdrpc.Compare.LESS,
    CompareOp.GREATER: etcdrpc.Compare.GREATER,
}


def _parse_endpoint(endpoint: str) -> tuple[str, int]:
    text = endpoint.strip()
    if text.startswith("https://"):
        raise ValueError(f"etcd endpoint {endpoint!r}: TLS is not supported")
    text = text.removeprefix("http://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"etcd endpoint {endpoint!r} is not host:port")
    return host.strip("[]"), int(port)


def _key_range(prefix: str) -> tuple[bytes, bytes]:
    """etcd's ``(key, range_end)`` for every key starting with ``prefix``."""
    if not prefix:
        return b"\0", b"\0"  # the whole key space
    return prefix.encode(), prefix_end(prefix).encode()


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def _error(exc: grpc.RpcError, what: str) -> KVError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    cls = CompactedError if _COMPACTED_TEXT in (details or "") else KVError
    name = code.name if code is not None else "ERROR"
    return cls(f"etcd {what} failed ({name}): {details}")


def _compare(cmp: Compare) -> Any:
    msg = etcdrpc.Compare(key=cmp.key.encode(), target=_TARGETS[cmp.target], result=_OPS[cmp.op])
    if cmp.target is CompareTarget.VALUE:
        msg.value = bytes(cmp.operand)  # type: ignore[arg-type]
    elif cmp.target is CompareTarget.MOD:
        msg.mod_revision = int(cmp.operand)  # type: ignore[arg-type]
    elif cmp.target is CompareTarget.CREATE:
        msg.create_revision = int(cmp.operand)  # type: ignore[arg-type]
    else:
        msg.version = int(cmp.operand)  # type: ignore[arg-type]
    return msg


def _request_op(op: Op) -> Any:
    if isinstance(op, Put):
        return etcdrpc.RequestOp(
            request_put=etcdrpc.PutRequest(key=op.key.encode(), value=bytes(op.value), lease=op.lease)
        )
    if isinstance(op, Delete):
        if op.prefix:
            key, end = _key_range(op.key)
            return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=key, range_end=end))
        return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=op.key.encode()))
    if isinstance(op, Get):
        if op.prefix:
            key, end = _key_range(op.key)
            return etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=key, range_end=end))
        return etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=op.key.encode()))
    raise TypeError(f"not a txn op: {op!r}")


def _response(resp: Any) -> object:
    kind = resp.WhichOneof("response")
    if kind == "response_range":
        return [_kv(kv) for kv in resp.response_range.kvs]
    if kind == "response_delete_range":
        return resp.response_delete_range.deleted
    return None


class _Stubs:
    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.kv = etcdrpc.KVStub(channel)
        self.lease = etcdrpc.LeaseStub(channel)
        self.watch = etcdrpc.WatchStub(channel)


class EtcdKV(KV):
    """A client of an etcd v3 cluster (``endpoints``: ``host:port`` strings)."""

    def __init__(self, endpoints: Sequence[str], timeout: float = 10.0):
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise ValueError("EtcdKV needs at least one endpoint")
        self._timeout = timeout
        self._endpoints = [
            pyetcd.Endpoint(host, port, secure=False, time_retry=_ENDPOINT_RETRY_S)
            for host, port in map(_parse_endpoint, endpoints)
        ]
        self._client = pyetcd.MultiEndpointEtcd3Client(
            endpoints=self._endpoints, timeout=timeout, failover=len(self._endpoints) > 1
        )
        self._lock = threading.Lock()
        self._stubs: _Stubs | None = None
        self._watches: set[_EtcdWatch] = set()
        self._closed = False

    # ---- plumbing --------------------------------------------------------------------

    def _current(self) -> _Stubs:
        if self._closed:
            raise KVError("etcd client is closed")
        try:
            channel = self._client.channel
        except (pyetcd.Etcd3Exception, ValueError) as exc:
            raise KVError(f"no etcd endpoint available: {exc}") from exc
        stubs = self._stubs
        if stubs is None or stubs.channel is not channel:
            stubs = self._stubs = _Stubs(channel)
        return stubs

    def _failed(self, exc: grpc.RpcError) -> None:
        """Skip the endpoint for a while when it is down and others may answer."""
        code = exc.code() if hasattr(exc, "code") else None
        if len(self._endpoints) > 1 and code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            self._client.endpoint_in_use.fail()

    def _rpc(self, service: str, method: str, request: Any, what: str) -> Any:
        stub = getattr(self._current(), service)
        try:
            return getattr(stub, method)(request, self._timeout)
        except grpc.RpcError as exc:
            self._failed(exc)
            raise _error(exc, what) from None

    def _range(self, request: Any) -> Any:
        return self._rpc("kv", "Range", request, "range")

    # ---- reads and writes ------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        resp = self._range(etcdrpc.RangeRequest(key=key.encode()))
        return _kv(resp.kvs[0]) if resp.kvs else None

    def range(self, prefix: str, limit: int = 0) -> list[KeyValue]:
        key, end = _key_range(prefix)
        resp = self._range(etcdrpc.RangeRequest(key=key, range_end=end, limit=max(0, limit)))
        return [_kv(kv) for kv in resp.kvs]

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        req = etcdrpc.PutRequest(key=key.encode(), value=bytes(value), lease=lease)
        return self._rpc("kv", "Put", req, "put").header.revision

    def delete(self, key: str) -> bool:
        req = etcdrpc.DeleteRangeRequest(key=key.encode())
        return self._rpc("kv", "DeleteRange", req, "delete").deleted > 0

    def delete_prefix(self, prefix: str) -> int:
        key, end = _key_range(prefix)
        req = etcdrpc.DeleteRangeRequest(key=key, range_end=end)
        return self._rpc("kv", "DeleteRange", req, "delete").deleted

    def txn(self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        req = etcdrpc.TxnRequest(
            compare=[_compare(c) for c in compares],
            success=[_request_op(op) for op in success],
            failure=[_request_op(op) for op in failure],
        )
        resp = self._rpc("kv", "Txn", req, "txn")
        return TxnResult(resp.succeeded, [_response(r) for r in resp.responses], resp.header.revision)

    def revision(self) -> int:
        return self._range(etcdrpc.RangeRequest(key=b"\0", count_only=True)).header.revision

    def compact(self, revision: int) -> None:
        """Forget the history older than ``revision``."""
        self._rpc("kv", "Compact", etcdrpc.CompactionRequest(revision=revision, physical=True), "compact")

    # ---- leases ----------------------------------------------------------------------

    def grant_lease(self, ttl: float) -> int:
        if ttl <= 0:
            raise ValueError(f"lease TTL must be positive, got {ttl}")
        # etcd counts whole seconds and raises a TTL below its minimum (about 2 s) to it
        resp = self._rpc("lease", "LeaseGrant", etcdrpc.LeaseGrantRequest(TTL=math.ceil(ttl)), "lease grant")
        if resp.error:
            raise KVError(f"etcd lease grant failed: {resp.error}")
        return resp.ID

    def keepalive(self, lease: int) -> float:
        stub = self._current().lease
        try:
            stream = stub.LeaseKeepAlive(iter([etcdrpc.LeaseKeepAliveRequest(ID=lease)]), self._timeout)
            try:
                resp = next(stream, None)
            finally:
                stream.cancel()
        except grpc.RpcError as exc:
            self._failed(exc)
            raise _error(exc, "lease keepalive") from None
        if resp is None or resp.TTL <= 0:
            raise KVError(f"requested lease not found: {lease}")
        return float(resp.TTL)

    def revoke_lease(self, lease: int) -> None:
        stub = self._current().lease
        try:
            stub.LeaseRevoke(etcdrpc.LeaseRevokeRequest(ID=lease), self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return
            self._failed(exc)
            raise _error(exc, "lease revoke") from None

    # ---- watch -----------------------------------------------------------------------

    def watch_prefix(self, prefix: str, start_revision: int | None = None) -> Watch:
        if start_revision is not None and start_revision < 0:
            raise ValueError(f"start_revision must be >= 0, got {start_revision}")
        key, end = _key_range(prefix)
        if start_revision:
            # etcd reports a compacted start asynchronously; ask up front to fail at once
            try:
                self._range(etcdrpc.RangeRequest(key=key, range_end=end, revision=start_revision, count_only=True))
            except CompactedError:
                raise
            except KVError as exc:
                if "future revision" not in str(exc):
                    raise
        create = etcdrpc.WatchCreateRequest(key=key, range_end=end, start_revision=start_revision or 0)
        with self._lock:
            if self._closed:
                raise KVError("etcd client is closed")
            watch = _EtcdWatch(self, self._current().watch, create)
            self._watches.add(watch)
        try:
            watch._wait_created(self._timeout)
        except BaseException:
            watch.cancel()
            raise
        return watch

    def _forget(self, watch: _EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watches, self._watches = self._watches, set()
        for watch in watches:
            watch.cancel()
        self._client.close()


_END = object()


class _EtcdWatch(Watch):
    """One gRPC watch stream; a reader thread turns its responses into queued events."""

    def __init__(self, owner: EtcdKV, stub: Any, create: Any):
        self._owner = owner
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._created = threading.Event()
        self._cancelled = False
        self._error: KVError | None = None
        self._requests.put(etcdrpc.WatchRequest(create_request=create))
        self._call = stub.Watch(self._request_iter())
        self._reader = threading.Thread(target=self._read, name="EtcdKV-watch", daemon=True)
        self._reader.start()

    def _request_iter(self) -> Iterator[Any]:
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def _wait_created(self, timeout: float) -> None:
        if not self._created.wait(timeout):
            raise KVError(f"etcd did not create the watch within {timeout}s")
        if self._error is not None:
            raise self._error

    def _fail(self, error: KVError) -> None:
        self._error = error
        self._events.put(_END)

    def _read(self) -> None:
        try:
            for resp in self._call:
                if resp.created:
                    if resp.canceled:
                        self._fail(KVError(f"etcd refused the watch: {resp.cancel_reason}"))
                        return
                    self._created.set()
                if resp.compact_revision:
                    self._fail(CompactedError(f"required revision has been compacted ({resp.compact_revision})"))
                    return
                for ev in resp.events:
                    kind = EventType.DELETE if ev.type == _EVENT_DELETE else EventType.PUT
                    self._events.put(Event(kind, ev.kv.key.decode(), ev.kv.value, ev.kv.mod_revision))
                if resp.canceled:
                    self._fail(KVError(f"etcd cancelled the watch: {resp.cancel_reason}"))
                    return
            if not self._cancelled:
                self._fail(KVError("etcd closed the watch stream"))
        except grpc.RpcError as exc:
            if not self._cancelled:
                self._fail(_error(exc, "watch"))
        except Exception as exc:  # noqa: BLE001 - the watch must end, not hang, on a bug
            log.exception("etcd watch reader failed")
            self._fail(KVError(f"etcd watch reader failed: {exc}"))
        finally:
            self._created.set()  # wake watch_prefix if it still waits
            self._requests.put(None)
            self._call.cancel()

    def get(self, timeout: float | None = None) -> Event | None:
        if self._cancelled:
            return None
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._events.put(_END)
            if self._error is not None and not self._cancelled:
                raise self._error
            return None
        return item

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._owner._forget(self)
        self._requests.put(None)
        self._call.cancel()
        self._events.put(_END)
        if threading.current_thread() is not self._reader:
            self._reader.join()
