"""The embedded meta store keeps every acknowledged write across a kill -9 of its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus.kv import CompactedError, EventType, KVError, LocalKV

REPO = Path(__file__).resolve().parents[2]
ACKED = 300

# writes keys in a loop and prints each one once put() has returned
WRITER = """
import sys
from milvus.kv.local import LocalKV

kv = LocalKV(sys.argv[1])
short = kv.grant_lease(float(sys.argv[2]))
long = kv.grant_lease(3600)
kv.put("leased/short", b"s", lease=short)
kv.put("leased/long", b"l", lease=long)
print("leases", short, long, flush=True)
i = 0
while True:
    key = f"k/{i:08d}"
    kv.put(key, f"value-{i}".encode())
    print(key, flush=True)
    i += 1
"""


@pytest.fixture
def writer(tmp_path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    path = str(tmp_path / "kv.sqlite3")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, path, "1.0"], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    yield proc, path
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()


def test_acknowledged_writes_survive_kill_9(writer):
    proc, path = writer
    assert proc.stdout is not None
    header = proc.stdout.readline().split()
    assert header and header[0] == "leases", f"writer failed to start (exit {proc.poll()})"
    short_lease, long_lease = int(header[1]), int(header[2])
    lease_granted_at = time.time()
    acked = []
    while len(acked) < ACKED:
        line = proc.stdout.readline()
        assert line, f"writer exited early with {proc.wait()}"
        acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL

    # the short lease's deadline passes while no process has the store open: it expires on open
    time.sleep(max(0.0, lease_granted_at + 1.5 - time.time()))
    kv = LocalKV(path)
    try:
        for key in acked:
            got = kv.get(key)
            assert got is not None, f"acknowledged key {key} lost"
            assert got.value == f"value-{int(key.split('/')[1])}".encode()
        assert kv.revision() >= len(acked) + 3
        assert kv.get("leased/short") is None
        long_kv = kv.get("leased/long")
        assert long_kv is not None and long_kv.lease == long_lease
        assert kv.keepalive(long_lease) == 3600
        with pytest.raises(KVError, match="lease not found"):
            kv.keepalive(short_lease)
        # the expiry is a write like any other: watchers replaying history see it
        start = long_kv.mod_revision
        with kv.watch_prefix("leased/", start_revision=start) as watch:
            events = [watch.get(timeout=5) for _ in range(2)]
        assert [(e.type, e.key) for e in events] == [(EventType.PUT, "leased/long"), (EventType.DELETE, "leased/short")]
        # the store goes on from where it stopped
        rev = kv.revision()
        assert kv.put("after", b"restart") == rev + 1
    finally:
        kv.close()


def test_reopen_keeps_revisions_history_and_leases(tmp_path):
    path = str(tmp_path / "kv.sqlite3")
    kv = LocalKV(path)
    lease = kv.grant_lease(3600)
    first = kv.put("a", b"1", lease=lease)
    kv.put("a", b"2", lease=lease)
    kv.delete("gone")
    kv.put("b", b"3")
    before = kv.get("a")
    rev = kv.revision()
    kv.close()

    kv = LocalKV(path)
    try:
        assert kv.revision() == rev
        assert kv.get("a") == before
        with kv.watch_prefix("", start_revision=first) as watch:
            assert [watch.get(timeout=5).value for _ in range(3)] == [b"1", b"2", b"3"]
        new_lease = kv.grant_lease(3600)
        assert new_lease != lease  # lease ids are never reused
        kv.revoke_lease(lease)
        assert kv.get("a") is None and kv.get("b") is not None
    finally:
        kv.close()


def test_history_is_bounded(tmp_path):
    kv = LocalKV(str(tmp_path / "kv.sqlite3"), history_revisions=50)
    try:
        first = kv.put("k", b"0")
        for i in range(1, 200):
            kv.put("k", str(i).encode())
        with pytest.raises(CompactedError):
            kv.watch_prefix("k", start_revision=first)
        recent = kv.revision() - 49
        with kv.watch_prefix("k", start_revision=recent) as watch:
            assert watch.get(timeout=5).mod_revision == recent
    finally:
        kv.close()


def test_a_second_process_cannot_open_the_same_file(tmp_path):
    path = str(tmp_path / "kv.sqlite3")
    kv = LocalKV(path)
    try:
        kv.put("x", b"1")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        code = "import sys\nfrom milvus.kv.local import LocalKV\nLocalKV(sys.argv[1]).get('x')"
        result = subprocess.run([sys.executable, "-c", code, path], env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode != 0 and "locked" in result.stderr
    finally:
        kv.close()
