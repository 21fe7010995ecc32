"""The descriptor-driven RPC layer: a servicer object served over gRPC and called in-process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymilvus.grpc_gen import common_pb2

from milvus._proto import indexnode_pb2, internal_pb2
from milvus.rpc import GrpcClient, GrpcServer, LocalClient, RpcError, WrapInterceptor, service_handler

SERVICE = indexnode_pb2.DESCRIPTOR.services_by_name["IndexNode"]


class FakeIndexNode:
    """A tiny implementation of the IndexNode service used to exercise the transport."""

    def __init__(self):
        self.jobs: dict[int, indexnode_pb2.CreateJobRequest] = {}

    def GetComponentStates(self, request):
        return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(role="indexnode", node_id=7))

    def CreateJob(self, request):
        if request.buildID in self.jobs:
            return common_pb2.Status(code=65535, reason=f"build {request.buildID} exists")
        self.jobs[request.buildID] = request
        return common_pb2.Status()

    def QueryJobs(self, request):
        infos = [indexnode_pb2.IndexTaskInfo(buildID=b, state=indexnode_pb2.FINISHED)
                 for b in request.buildIDs if b in self.jobs]
        return indexnode_pb2.QueryJobsResponse(index_infos=infos)

    def DropJobs(self, request):
        raise RuntimeError("boom")


@pytest.fixture(params=["grpc", "local"])
def client(request):
    impl = FakeIndexNode()
    if request.param == "local":
        yield LocalClient(impl, SERVICE)
        return
    server = GrpcServer("127.0.0.1", 0, [service_handler(SERVICE, impl)], max_workers=4)
    server.start()
    cli = GrpcClient.connect(server.address, SERVICE, timeout=10)
    try:
        yield cli
    finally:
        cli.close()
        server.stop(0)


def test_calls_round_trip(client):
    states = client.GetComponentStates(internal_pb2.GetComponentStatesRequest())
    assert states.state.role == "indexnode" and states.state.node_id == 7
    assert client.CreateJob(indexnode_pb2.CreateJobRequest(buildID=3, segmentID=9)).code == 0
    again = client.CreateJob(indexnode_pb2.CreateJobRequest(buildID=3))
    assert again.code == 65535 and "exists" in again.reason
    resp = client.QueryJobs(indexnode_pb2.QueryJobsRequest(buildIDs=[3, 4]))
    assert [i.buildID for i in resp.index_infos] == [3]
    assert resp.index_infos[0].state == indexnode_pb2.FINISHED


def test_failure_surfaces(client):
    with pytest.raises((RpcError, RuntimeError)):
        client.DropJobs(indexnode_pb2.DropJobsRequest(buildIDs=[1]))


def test_missing_method_is_refused_at_wiring():
    class Incomplete:
        def GetComponentStates(self, request):  # pragma: no cover - never called
            return internal_pb2.ComponentStates()

    with pytest.raises(TypeError, match="CreateJob"):
        service_handler(SERVICE, Incomplete())
    with pytest.raises(TypeError, match="CreateJob"):
        LocalClient(Incomplete(), SERVICE)


def test_unreachable_server_is_an_rpc_error():
    from milvus.localsvc import free_port

    cli = GrpcClient.connect(f"127.0.0.1:{free_port()}", SERVICE, timeout=0.5)
    try:
        with pytest.raises(RpcError) as info:
            cli.GetComponentStates(internal_pb2.GetComponentStatesRequest())
        assert info.value.method == "GetComponentStates"
    finally:
        cli.close()


def test_idle_keepalive_pings_keep_the_connection():
    """pymilvus pings an idle connection every 10 s (keepalive without calls); Milvus' servers
    accept pings 5 s apart.  gRPC core's server default (one ping per 5 min without data, two
    strikes) answered with GOAWAY ``too_many_pings``: an idle pymilvus client lost its
    connection after about two minutes.  A client pinging every 5 s without throttling (its
    third ping came 15 s in) stays connected."""
    import threading

    import grpc

    server = GrpcServer("127.0.0.1", 0, [service_handler(SERVICE, FakeIndexNode())], max_workers=2)
    server.start()
    channel = grpc.insecure_channel(server.address, options=[("grpc.keepalive_time_ms", 5000),
                                                            ("grpc.keepalive_timeout_ms", 5000),
                                                            ("grpc.keepalive_permit_without_calls", 1),
                                                            ("grpc.http2.max_pings_without_data", 0)])
    states: list[grpc.ChannelConnectivity] = []
    left_ready = threading.Event()

    def watch(state: grpc.ChannelConnectivity) -> None:
        states.append(state)
        if len(states) > 1 and states[-2] == grpc.ChannelConnectivity.READY and state != states[-2]:
            left_ready.set()

    try:
        call = channel.unary_unary(f"/{SERVICE.full_name}/GetComponentStates",
                                   request_serializer=internal_pb2.GetComponentStatesRequest.SerializeToString,
                                   response_deserializer=internal_pb2.ComponentStates.FromString)
        assert call(internal_pb2.GetComponentStatesRequest(), timeout=10).state.node_id == 7
        channel.subscribe(watch, try_to_connect=False)
        # three pings (5, 10, 15 s) with no call in between; the channel must stay READY
        assert not left_ready.wait(17.0), f"the server dropped an idle pinging connection: {states}"
        assert states[-1] == grpc.ChannelConnectivity.READY
    finally:
        channel.unsubscribe(watch)
        channel.close()
        server.stop(0)


class BlockingIndexNode(FakeIndexNode):
    """``CreateJob`` holds its worker until ``release`` is set (a call waiting on another server)."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def CreateJob(self, request):
        self.entered.release()
        self.release.wait(30)
        return common_pb2.Status()


@pytest.mark.parametrize("leaf", ["QueryJobs", f"/{SERVICE.full_name}/QueryJobs"])
def test_a_leaf_method_is_served_while_every_worker_is_held(leaf):
    """Every worker of the server's pool is held by a call that waits (as a shard leader waits on
    another node's segment reads); a leaf method runs on a pool of its own and still answers.
    With one pool, the leaf call would queue behind the held ones until they gave up.  The
    server's interceptors (metrics, tracing) still see the leaf method."""
    seen = []

    def wrap(name, fn):
        def call(request, context):
            seen.append((name, threading.current_thread().name))
            return fn(request, context)
        return call

    impl = BlockingIndexNode()
    server = GrpcServer("127.0.0.1", 0, [service_handler(SERVICE, impl)], max_workers=2, name="qn",
                        interceptors=[WrapInterceptor(wrap)], leaf_methods={leaf}, leaf_workers=1)
    server.start()
    cli = GrpcClient.connect(server.address, SERVICE, timeout=10)
    callers = ThreadPoolExecutor(3)
    try:
        held = [callers.submit(cli.CreateJob, indexnode_pb2.CreateJobRequest(buildID=i)) for i in range(3)]
        for _ in range(2):  # both workers hold a call; the third call waits for one
            assert impl.entered.acquire(timeout=10)
        assert not impl.entered.acquire(timeout=0.05)
        impl.jobs[5] = indexnode_pb2.CreateJobRequest(buildID=5)
        resp = cli.QueryJobs(indexnode_pb2.QueryJobsRequest(buildIDs=[5]), timeout=5)
        assert [i.buildID for i in resp.index_infos] == [5]
        assert ("QueryJobs", "qn-leaf_0") in seen
        # a method that is not a leaf stays on the main pool, behind the held calls
        with pytest.raises(RpcError) as info:
            cli.GetComponentStates(internal_pb2.GetComponentStatesRequest(), timeout=0.3)
        assert info.value.code.name == "DEADLINE_EXCEEDED"
        impl.release.set()
        assert all(f.result(10).code == 0 for f in held)
    finally:
        impl.release.set()
        callers.shutdown(wait=True)
        cli.close()
        server.stop(0)
