"""Transfer state is kept at least 7 days, audited values `audit_days`, then forgotten."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy import insert, select, update

from ardoise.db import utcnow
from sync import transfer
from sync.scope import Scope
from sync.tables import SyncAudit, SyncOutTransfer
from tests.sync.helpers import Replica, TLog, TSchool, push


def test_old_state_is_forgotten_recent_kept(make_replica: Callable[..., Replica]) -> None:
    a, b = make_replica("a"), make_replica("b")
    with a.session() as s:
        school = TSchool(name="x")
        s.add(school)
        s.flush()
        s.add(TLog(school_id=school.id, text="t"))
    old = transfer.prepare(a.engine, a.registry, Scope(), {}, b.instance, a.clock)
    recent = push(a, b)
    out = SyncOutTransfer.__table__
    audit = SyncAudit.__table__
    with a.engine.begin() as conn:
        conn.execute(update(out).where(out.c.id == old.id)
                     .values(created_at=utcnow() - dt.timedelta(days=8)))
        for days in (100, 10):
            conn.execute(insert(audit).values(
                table_name="t_log", row_id=uuid.uuid4(), field="text", value='"x"', hlc=1,
                instance=a.instance, winner_hlc=2, winner_instance=b.instance,
                recorded_at=utcnow() - dt.timedelta(days=days)))
    # asking for less than 7 days still keeps a week
    assert transfer.maintenance(a.engine, transfer_days=1, audit_days=90) >= 2
    with a.engine.connect() as conn:
        assert set(conn.execute(select(out.c.id)).scalars()) == {recent.id}
        assert conn.execute(select(audit.c.id)).all() and len(
            conn.execute(select(audit.c.id)).all()) == 1
