"""LocalMQ durability: acknowledged sends survive SIGKILL; torn tails are dropped on reopen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milvus.mq import LocalMQ, MQError, Position, local_log

REPO = Path(__file__).resolve().parents[2]
CHANNEL = "durable"

# Sends forever, one line per message on stdout only after send/send_batch returned.
CHILD = r"""
import sys
from milvus.mq import LocalMQ

def payload(i):
    return (b"%08d" % i) * (1 + (i * 7919) % 1500)

root, segment_bytes, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mq = LocalMQ(root, segment_bytes=segment_bytes)
producer = mq.create_producer("durable")
i = start
while True:
    if i % 11 == 5:
        batch = list(range(i, i + 6))
        producer.send_batch([payload(j) for j in batch], [{"i": str(j)} for j in batch])
        sys.stdout.write("".join(f"{j}\n" for j in batch))
        i += 6
    else:
        producer.send(payload(i), {"i": str(i)})
        sys.stdout.write(f"{i}\n")
        i += 1
    sys.stdout.flush()
"""


def payload(i: int) -> bytes:
    return (b"%08d" % i) * (1 + (i * 7919) % 1500)


def read_all(mq: LocalMQ, subscription: str) -> list:
    out = []
    with mq.subscribe(CHANNEL, subscription, Position.EARLIEST) as consumer:
        while (msg := consumer.receive(timeout=0.3)) is not None:
            out.append(msg)
    return out


def run_child_until_killed(root: Path, segment_bytes: int, start: int, acked_wanted: int) -> list[int]:
    """Start the sender, read ``acked_wanted`` acknowledged indexes, SIGKILL it; return all acked."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(segment_bytes), str(start)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env,
    )
    acked: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(acked) < acked_wanted:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"sender exited early ({child.wait()}): {child.stderr.read().decode()[-2000:]}")
            acked.append(int(line))
            assert time.monotonic() < deadline, "sender too slow"
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
    # lines printed before the kill are acknowledged too; a cut-off last line is not
    lines = rest.split(b"\n")
    acked += [int(x) for x in lines[:-1]]
    return acked


def test_acknowledged_sends_survive_sigkill(tmp_path: Path) -> None:
    root = tmp_path / "mq"
    segment_bytes = 512 * 1024  # several segment rolls per round
    start = 0
    for round_no in range(3):
        acked = run_child_until_killed(root, segment_bytes, start, acked_wanted=300)
        assert acked == list(range(start, start + len(acked)))
        with LocalMQ(root, segment_bytes=segment_bytes) as mq:
            got = read_all(mq, f"check-{round_no}")
            assert len(got) >= start + len(acked), "an acknowledged message was lost"
            for i, msg in enumerate(got):  # exactly once, in order, intact
                assert msg.payload == payload(i), f"message {i} is corrupt or out of place"
                assert dict(msg.properties) == {"i": str(i)}
            assert all(a.id < b.id for a, b in zip(got, got[1:], strict=False))
            assert mq.latest_id(CHANNEL) == got[-1].id
        start = len(got)
    assert len(list((root / CHANNEL).glob("*.log"))) > 1


def only_segment(root: Path) -> Path:
    (segment,) = (root / CHANNEL).glob("*.log")
    return segment


@pytest.mark.parametrize("damage", ["truncate-mid-record", "append-garbage", "append-zeros", "flip-a-byte"])
def test_torn_tail_is_dropped_on_reopen(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "mq"
    with LocalMQ(root) as mq, mq.create_producer(CHANNEL) as producer:
        ids = [producer.send(payload(i), {"i": str(i)}) for i in range(10)]
    segment = only_segment(root)
    size = segment.stat().st_size
    survivors = 9
    if damage == "truncate-mid-record":
        os.truncate(segment, size - 7)
    elif damage == "append-garbage":
        with open(segment, "ab") as f:
            f.write(b"\x17\x00\x00\x00garbage that is no record at all")
        survivors = 10
    elif damage == "append-zeros":
        with open(segment, "ab") as f:
            f.write(b"\x00" * 4096)
        survivors = 10
    else:
        with open(segment, "r+b") as f:
            f.seek(size - 3)
            byte = f.read(1)
            f.seek(size - 3)
            f.write(bytes([byte[0] ^ 0xFF]))

    with LocalMQ(root) as mq:
        assert mq.latest_id(CHANNEL) == ids[survivors - 1]
        with mq.create_producer(CHANNEL) as producer:
            new_id = producer.send(b"after-reopen")
        assert ids[survivors - 1] < new_id
        got = read_all(mq, "check")
    assert [m.payload for m in got] == [payload(i) for i in range(survivors)] + [b"after-reopen"]
    assert got[-1].id == new_id


def test_segments_roll_and_seek_finds_every_record(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(local_log, "INDEX_STRIDE", 7)  # exercise the sparse index
    root = tmp_path / "mq"
    with LocalMQ(root, segment_bytes=4096) as mq, mq.create_producer(CHANNEL) as producer:
        ids = producer.send_batch([payload(i)[:300] for i in range(60)])
        ids += [producer.send(payload(i)[:300]) for i in range(60, 100)]
    assert len(list((root / CHANNEL).glob("*.log"))) > 5
    with LocalMQ(root, segment_bytes=4096) as mq:  # reopened: indexes are rebuilt lazily
        with mq.subscribe(CHANNEL, "s", Position.EARLIEST) as consumer:
            for k in (0, 6, 7, 8, 13, 14, 42, 98):
                consumer.seek(ids[k])
                msg = consumer.receive(timeout=1)
                assert msg is not None and msg.id == ids[k + 1] and msg.payload == payload(k + 1)[:300]
            consumer.seek(ids[99])
            assert consumer.receive(timeout=0.05) is None
        assert [m.payload for m in read_all(mq, "all")] == [payload(i)[:300] for i in range(100)]


def test_acked_position_survives_reopen_without_close(tmp_path: Path) -> None:
    root = tmp_path / "mq"
    mq = LocalMQ(root)
    with mq.create_producer(CHANNEL) as producer:
        producer.send_batch([b"a", b"b", b"c"])
    consumer = mq.subscribe(CHANNEL, "s", Position.EARLIEST)
    consumer.ack(consumer.receive(timeout=1))
    # no consumer.close(): the cursor file must already hold the ack
    assert (root / CHANNEL / "subs" / "s.cursor").stat().st_size > 0
    mq.close()
    with LocalMQ(root) as again, again.subscribe(CHANNEL, "s") as consumer:
        msg = consumer.receive(timeout=1)
        assert msg is not None and msg.payload == b"b"


def test_directory_is_locked_by_one_localmq(tmp_path: Path) -> None:
    with LocalMQ(tmp_path / "mq"):
        with pytest.raises(MQError):
            LocalMQ(tmp_path / "mq")
    LocalMQ(tmp_path / "mq").close()  # released on close


def test_torn_cursor_write_falls_back_to_the_previous_ack(tmp_path: Path) -> None:
    root = tmp_path / "mq"
    with LocalMQ(root) as mq:
        with mq.create_producer(CHANNEL) as producer:
            producer.send_batch([b"a", b"b", b"c", b"d"])
        with mq.subscribe(CHANNEL, "s", Position.EARLIEST) as consumer:
            first, second = consumer.receive(timeout=1), consumer.receive(timeout=1)
            consumer.ack(first)
            consumer.ack(second)  # the newest slot holds "b"; the other still holds "a"
    cursor = root / CHANNEL / "subs" / "s.cursor"
    data = bytearray(cursor.read_bytes())
    newest = max((0, 512), key=lambda off: int.from_bytes(data[off : off + 8], "little"))
    data[newest + 10] ^= 0xFF  # as if the last ack's write was torn
    cursor.write_bytes(bytes(data))
    with LocalMQ(root) as mq, mq.subscribe(CHANNEL, "s") as consumer:
        msg = consumer.receive(timeout=1)
        assert msg is not None and msg.payload == b"b"  # redelivered, never skipped
