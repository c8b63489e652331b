"""Bad input is refused whole, with a clear message, and leaves the state intact."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
import zstandard

from ardoise.errors import ArdoiseError, Conflict, TooLarge
from sync import bundle, frames, hlc, transfer
from sync.hlc import ClockSkew
from sync.scope import Scope
from sync.transfer import OutOfScope, SchemaMismatch
from tests.sync.helpers import Replica, TLog, TSchool


def _frames(a: Replica, b: Replica, n: int = 30) -> tuple[list[bytes], TSchool]:
    with a.session() as s:
        school = TSchool(name="x")
        s.add(school)
        s.flush()
        s.add_all([TLog(school_id=school.id, text=f"t{i}") for i in range(n)])
    out = transfer.prepare(a.engine, a.registry, Scope(), {}, b.instance, a.clock)
    with a.engine.connect() as conn:
        return list(transfer.out_frames(conn, out.id, 0)), school


def _untouched(r: Replica) -> None:
    assert r.rows("t_log") == {} and r.rows("t_school") == {}


@pytest.mark.parametrize("mangle, error", [
    (lambda d: d[:20], frames.FrameError),  # truncated envelope
    (lambda d: d[:-5], frames.FrameError),  # truncated payload
    (lambda d: d[:40] + bytes([d[40] ^ 0xFF]) + d[41:], frames.FrameError),  # corrupt
    (lambda d: b"XX" + d[2:], frames.FrameError),  # not a frame
    (lambda d: d[:2] + b"\x09" + d[3:], frames.FrameError),  # unknown frame version
    (lambda d: d[:24] + struct.pack(">I", 50_000_000) + d[28:], TooLarge),  # oversized
])
def test_damaged_frames_are_refused(make_replica: Callable[..., Replica],
                                    mangle: Callable[[bytes], bytes], error: type) -> None:
    a, b = make_replica("a"), make_replica("b")
    data, _ = _frames(a, b)
    with pytest.raises(error) as exc:
        transfer.apply_frame(b.engine, b.registry, mangle(data[0]), clock=b.clock)
    assert exc.value.render("en")
    _untouched(b)
    transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock)  # the good one applies
    assert len(b.rows("t_log")) == 30


def _forge(tid: uuid.UUID, body: dict[str, object], last: bool = True) -> bytes:
    payload = zstandard.ZstdCompressor().compress(msgpack.packb(body, use_bin_type=True))
    return frames.ENVELOPE.pack(frames.MAGIC, frames.VERSION, 1 if last else 0, tid.bytes, 0,
                                len(payload), zlib.crc32(payload)) + payload


def test_decompression_bomb_is_refused(make_replica: Callable[..., Replica]) -> None:
    b = make_replica("b")
    bomb = zstandard.ZstdCompressor().compress(b"\x00" * (frames.MAX_RAW_BYTES + 10))
    data = frames.ENVELOPE.pack(frames.MAGIC, frames.VERSION, 1, uuid.uuid4().bytes, 0,
                                len(bomb), zlib.crc32(bomb)) + bomb
    with pytest.raises(ArdoiseError):
        transfer.apply_frame(b.engine, b.registry, data, clock=b.clock)


def test_unknown_schema_and_protocol_are_refused(make_replica: Callable[..., Replica]) -> None:
    a, b = make_replica("a"), make_replica("b")
    data, _ = _frames(a, b)
    frame = frames.decode(data[0], a.registry)
    assert frame.header is not None
    for key, value in (("schema", "0000"), ("proto", 99)):
        body = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(
            data[0][frames.ENVELOPE.size:], max_output_size=1 << 24), raw=False)
        body["h"][key] = value
        with pytest.raises(SchemaMismatch, match="update the older side"):
            transfer.apply_frame(b.engine, b.registry, _forge(frame.transfer_id, body),
                                 clock=b.clock)
    _untouched(b)


def test_wrong_types_and_unknown_tables_are_refused(make_replica: Callable[..., Replica]
                                                    ) -> None:
    a, b = make_replica("a"), make_replica("b")
    data, _ = _frames(a, b, 3)
    body = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(
        data[0][frames.ENVELOPE.size:], max_output_size=1 << 24), raw=False)
    tid = uuid.uuid4()
    logs = next(t for t in body["t"] if t["n"] == "t_log")
    logs["d"][logs["c"].index("text")][0] = 42  # an int where text is expected
    with pytest.raises(ArdoiseError, match=r"t_log\.text"):
        transfer.apply_frame(b.engine, b.registry, _forge(tid, body), clock=b.clock)
    logs["d"][logs["c"].index("text")][0] = "ok"
    logs["n"] = "secrets"
    with pytest.raises(frames.FrameError, match="does not sync here"):
        transfer.apply_frame(b.engine, b.registry, _forge(tid, body), clock=b.clock)
    _untouched(b)


def test_out_of_order_frames_and_foreign_scope(make_replica: Callable[..., Replica]) -> None:
    a, b = make_replica("a"), make_replica("b")
    with a.session() as s:
        school = TSchool(name="x")
        s.add(school)
        s.flush()
        s.add_all([TLog(school_id=school.id, text=f"{i:04d}" * 60) for i in range(300)])
    out = transfer.prepare(a.engine, a.registry, Scope(), {}, b.instance, a.clock, target=2048)
    with a.engine.connect() as conn:
        data = list(transfer.out_frames(conn, out.id, 0))
    assert len(data) > 2
    with pytest.raises(Conflict, match="send frame 0 first"):
        transfer.apply_frame(b.engine, b.registry, data[1], clock=b.clock)
    with pytest.raises(OutOfScope):
        transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock,
                             allowed=Scope(uuid.uuid4()))
    transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock)
    with pytest.raises(Conflict, match="frame 1 is expected"):
        transfer.apply_frame(b.engine, b.registry, data[2], clock=b.clock)


def test_stamps_years_ahead_are_refused(make_replica: Callable[..., Replica]) -> None:
    a = make_replica("a", start=1_760_000_000 + 3 * 365 * 86_400)  # clock three years ahead
    b = make_replica("b")
    data, _ = _frames(a, b)
    with pytest.raises(ClockSkew, match="days ahead"):
        transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock)
    _untouched(b)
    with pytest.raises(ClockSkew):
        hlc.check_remote(-1, 0, 10)


def test_usb_bundle_round_trip_twice_is_harmless(make_replica: Callable[..., Replica],
                                                 tmp_path: Path) -> None:
    a, b = make_replica("a"), make_replica("b")
    with a.session() as s:
        school = TSchool(name="x")
        s.add(school)
        s.flush()
        s.add_all([TLog(school_id=school.id, text=f"t{i}") for i in range(20)])
    path = bundle.export(a.engine, a.registry, tmp_path, Scope(), b.instance, clock=a.clock)
    first = bundle.import_file(b.engine, b.registry, path, clock=b.clock)
    second = bundle.import_file(b.engine, b.registry, path, clock=b.clock)
    assert first.stats.inserted == 21 and second.duplicates == second.frames
    assert len(b.rows("t_log")) == 20
    # b's answer carries nothing back to a (b learnt a's knowledge from the bundle) ...
    back = bundle.export(b.engine, b.registry, tmp_path, Scope(), a.instance, clock=b.clock)
    assert bundle.import_file(a.engine, a.registry, back, clock=a.clock).stats.rows == 0
    # ... and a damaged file is refused before anything is applied
    damaged = tmp_path / "damaged.ardsync"
    raw = path.read_bytes()
    damaged.write_bytes(raw[:-10])
    c = make_replica("c")
    with pytest.raises(ArdoiseError):
        bundle.import_file(c.engine, c.registry, damaged, clock=c.clock)
    _untouched(c)


def test_rows_whose_parents_are_missing_are_refused_whole(
        make_replica: Callable[..., Replica]) -> None:
    a, b = make_replica("a"), make_replica("b")
    data, _ = _frames(a, b, 3)
    body = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(
        data[0][frames.ENVELOPE.size:], max_output_size=1 << 24), raw=False)
    body["t"] = [t for t in body["t"] if t["n"] != "t_school"]  # the school never came
    with pytest.raises(Conflict, match="could not be applied"):
        transfer.apply_frame(b.engine, b.registry, _forge(uuid.uuid4(), body), clock=b.clock)
    _untouched(b)
