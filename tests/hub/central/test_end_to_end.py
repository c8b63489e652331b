"""A hub and a central on loopback: enrollment, rounds both ways, refusals."""

from __future__ import annotations

import http.client
import time
import urllib.parse
import uuid

import pytest
from sqlalchemy import func, select

from hub.central import fleet
from hub.models import Assignment, Role, School, Submission, User
from hub.sync_registry import registry
from sync import (
    capture,
    changes,
    frames,
    hubside,
    instance,
    protocol,
    signing,
    transfer,
    vectors,
)
from sync.client import SyncRefused
from sync.hlc import physical_ms
from sync.scope import EVERYTHING
from tests.factories import World, make_world
from tests.hub.central.conftest import Central, HubSide


def _token(central: Central, world: World) -> str:
    with central.sessions() as s:
        token = fleet.create_token(s, world.school.id, note="test")
        s.commit()
    return token


def _enrolled(central: Central, hub_side: HubSide) -> World:
    world = make_world(central.app, n_students=2)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    return world


def _count(sessions: object, model: type, **kw: object) -> int:
    with sessions() as s:  # type: ignore[operator]
        q = select(func.count()).select_from(model)
        for k, v in kw.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q)


def test_enroll_then_work_travels_both_ways(central: Central, hub_side: HubSide) -> None:
    world = _enrolled(central, hub_side)
    first = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert first.done and first.pulled_rows > 0
    assert _count(hub_side.sessions, User) == _count(central.sessions, User)
    # an assignment made on the central reaches the hub
    with central.sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Les fractions")
        s.add(a)
        s.commit()
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    with hub_side.sessions() as s:
        assert s.get(Assignment, a.id).title == "Les fractions"  # type: ignore[union-attr]
        s.add(Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=a.id, student_id=world.students[0].id, text="3/4"))
        s.commit()
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert stats.requests == 1
    assert _count(central.sessions, Submission, text="3/4") == 1
    idle = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert idle.requests == 1 and idle.pushed_rows == 0 and idle.pulled_rows == 0
    assert idle.extra["bytes_sent"] + idle.extra["bytes_received"] < 1024
    with central.sessions() as s:
        hub = s.scalars(select(fleet.CentralHub)).one()
        assert hub.last_sync_at is not None and hub.last_error == ""


def _post(central: Central, path: str, body: bytes, headers: dict[str, str]
          ) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(central.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _signed_round(central: Central, hub_side: HubSide) -> tuple[bytes, dict[str, str]]:
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    key = signing.load_or_create_key(hubside.key_path(hub_side.data_dir))
    with hub_side.engine.connect() as conn:
        local = instance.current(conn).instance
    body = protocol.pack_message(protocol.REQUEST_MAGIC, {
        "proto": transfer.PROTOCOL, "schema": registry().schema_version, "src": local.bytes,
        "scope": enr.scope.key, "vec": [], "push": None, "pull": None})
    return body, signing.sign(key, enr.hub_id, "POST", "/api/v1/sync/round", body)


def test_replay_and_tampering_are_refused(central: Central, hub_side: HubSide) -> None:
    _enrolled(central, hub_side)
    body, headers = _signed_round(central, hub_side)
    status, _ = _post(central, "/api/v1/sync/round", body, headers)
    assert status == 200
    status, raw = _post(central, "/api/v1/sync/round", body, headers)
    assert status == 401 and b"replayed" in raw
    body, headers = _signed_round(central, hub_side)
    status, raw = _post(central, "/api/v1/sync/round", body + b"x", headers)
    assert status == 401 and b"bad_signature" in raw
    body, headers = _signed_round(central, hub_side)
    status, raw = _post(central, "/api/v1/sync/round", body,
                        {k: v for k, v in headers.items() if k != signing.SIGNATURE})
    assert status == 400 and b'"header":"X-Ardoise-Signature"' in raw


def test_revoked_hub_and_used_token_are_refused(central: Central, hub_side: HubSide) -> None:
    world = _enrolled(central, hub_side)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    with central.sessions() as s:
        fleet.revoke_hub(s, s.scalars(select(fleet.CentralHub)).one().id)
        s.commit()
    with pytest.raises(SyncRefused) as err:
        hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert err.value.status_code == 401 and err.value.remote_code == "revoked"
    token = _token(central, world)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token)
    with pytest.raises(SyncRefused) as err:
        hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token)
    assert err.value.status_code == 401
    assert hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir).done


def test_rows_outside_the_hubs_school_are_refused(central: Central, hub_side: HubSide
                                                  ) -> None:
    world = _enrolled(central, hub_side)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    with hub_side.sessions() as s:  # a hub tampered with to write another school's data
        other = School(name="Ailleurs", code="ailleurs")
        s.add(other)
        s.flush()
        s.add(User(school_id=other.id, role=Role.TEACHER, username="x", full_name="X"))
        s.add(User(school_id=world.school.id, role=Role.TEACHER, username="y", full_name="Y"))
        s.commit()
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    # its own selection never sends them ...
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert _count(central.sessions, School, code="ailleurs") == 0
    # ... and frames forged to carry them under its school's scope are refused whole
    users_before = _count(central.sessions, User)
    with hub_side.engine.connect() as conn:
        local = instance.current(conn).instance
        wire = vectors.to_wire(vectors.knowledge(conn, local, EVERYTHING))
        batches = list(changes.unseen(conn, registry(), EVERYTHING, {}))
    tid = uuid.uuid4()
    header = {"src": local.bytes, "scope": enr.scope.key, "schema": registry().schema_version,
              "proto": transfer.PROTOCOL, "sv": wire}
    data = b"".join(frames.build(tid, batches, header, wire))
    body = protocol.pack_message(protocol.REQUEST_MAGIC, {
        "proto": transfer.PROTOCOL, "schema": registry().schema_version, "src": local.bytes,
        "scope": enr.scope.key, "vec": wire, "push": {"id": tid.bytes, "frames": 1},
        "pull": None}, data)
    key = signing.load_or_create_key(hubside.key_path(hub_side.data_dir))
    status, raw = _post(central, "/api/v1/sync/round", body,
                        signing.sign(key, enr.hub_id, "POST", "/api/v1/sync/round", body))
    assert status == 403 and b"out_of_scope" in raw
    assert _count(central.sessions, School, code="ailleurs") == 0
    assert _count(central.sessions, User) == users_before  # nothing of the frame applied


def test_clock_years_off_is_corrected_from_the_central(central: Central, hub_side: HubSide
                                                       ) -> None:
    _enrolled(central, hub_side)
    wrong = instance.Clock(lambda: time.time() + 3 * 365 * 86400)
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, clock=wrong)
    assert stats.done
    assert stats.clock_offset_ms is not None and stats.clock_offset_ms < -86400_000 * 365


def test_unenrolled_hub_gets_a_clear_message(hub_side: HubSide) -> None:
    with pytest.raises(Exception, match="not enrolled"):
        hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert uuid.UUID(hubside.status(hub_side.engine)["instance"])


def test_work_stamped_while_the_clock_was_years_ahead_still_arrives(
        central: Central, hub_side: HubSide) -> None:
    world = _enrolled(central, hub_side)
    with central.sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Sciences")
        s.add(a)
        s.commit()
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    wrong = instance.Clock(lambda: time.time() + 3 * 365 * 86400)
    cap = capture.installed(hub_side.engine)
    assert cap is not None
    cap.clock = wrong  # after a power cut the Pi's clock is three years ahead
    with hub_side.sessions() as s:  # and a student hands in before any sync
        s.add(Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=a.id, student_id=world.students[0].id, text="futur"))
        s.commit()
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, clock=wrong)
    assert stats.done and stats.pushed_rows == 1
    with central.sessions() as s:
        sub = s.scalars(select(Submission).where(Submission.text == "futur")).one()
        assert abs(physical_ms(sub.sync_hlc) / 1000 - time.time()) < 3600


def test_bad_requests_get_clear_statuses_and_change_nothing(central: Central,
                                                            hub_side: HubSide) -> None:
    world = _enrolled(central, hub_side)
    assignment = _assignment(central, world)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    key = signing.load_or_create_key(hubside.key_path(hub_side.data_dir))
    with hub_side.sessions() as s:
        s.add(Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=assignment.id,
                         student_id=world.students[0].id, text="x"))
        s.commit()
    with hub_side.engine.connect() as conn:
        local = instance.current(conn).instance
        wire = vectors.to_wire(vectors.knowledge(conn, local, enr.scope))
    out = transfer.prepare(hub_side.engine, registry(), enr.scope, {}, enr.central_instance)
    with hub_side.engine.connect() as conn:
        data = b"".join(transfer.out_frames(conn, out.id, 0))

    def post(header: dict[str, object], body: bytes) -> tuple[int, bytes]:
        full = {"proto": transfer.PROTOCOL, "schema": registry().schema_version,
                "src": local.bytes, "scope": enr.scope.key, "vec": wire,
                "push": {"id": out.id.bytes, "frames": out.frames}, "pull": None, **header}
        msg = protocol.pack_message(protocol.REQUEST_MAGIC, full, body)
        return _post(central, "/api/v1/sync/round", msg,
                     signing.sign(key, enr.hub_id, "POST", "/api/v1/sync/round", msg))

    before = _count(central.sessions, Submission)
    for header, body, status, code in (
            ({}, data[:-7], 400, b"bad_frame"),  # truncated
            ({}, data[:40] + bytes([data[40] ^ 1]) + data[41:], 400, b"bad_frame"),
            ({"schema": "0123456789abcdef"}, data, 409, b"schema_mismatch"),
            ({"proto": 9}, data, 409, b"schema_mismatch"),
            ({"scope": "s:" + "0" * 32}, data, 403, b"out_of_scope")):
        got, raw = post(header, body)
        assert (got, code in raw) == (status, True), (header, got, raw[:200])
        assert _count(central.sessions, Submission) == before
    assert post({}, data)[0] == 200
    assert _count(central.sessions, Submission) == before + 1


def _assignment(central: Central, world: World) -> Assignment:
    with central.sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="A")
        s.add(a)
        s.commit()
    return a
