"""The engine's own tables: identity, clocks, knowledge, transfers, purges, audit.

They live on the shared metadata so the hub's single migration creates them; none of
them syncs as a record (transfers are per peer, audit and conflicts stay where they
happened), except `sync_purge`, whose rows travel so that a purge reaches every replica.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ardoise.db import Base, utcnow


class SyncLocal(Base):
    """One row: this database's instance id, its change counter and its last HLC stamp.

    Every transaction that changes synced rows updates this row, which serializes writers
    on the counter: a counter is never visible before all smaller ones are committed, so
    "rows above counter N" never skips a late commit (also with several central processes).
    """

    __tablename__ = "sync_local"

    key: Mapped[int] = mapped_column(primary_key=True, default=1)
    instance_id: Mapped[uuid.UUID]
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    # Correction of this device's wall clock learned from the central (milliseconds).
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncVector(Base):
    """Knowledge: `holder` has seen every change of `instance` up to `counter` in `scope`.

    The holder is this instance (what we have) or a peer (what we know the peer has).
    """

    __tablename__ = "sync_vector"

    holder: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), primary_key=True)
    instance: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncKnownInstance(Base):
    """Every instance whose changes reached this database (to look rows up by index)."""

    __tablename__ = "sync_known_instance"

    instance: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncOutTransfer(Base):
    """Frames prepared for a peer (or a USB bundle), kept until acknowledged and then
    `sync_transfer_days` more, so that a resumed round sends the very same frames."""

    __tablename__ = "sync_out_transfer"
    __table_args__ = (Index("ix_sync_out_transfer_peer", "peer", "scope", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    peer: Mapped[uuid.UUID | None] = mapped_column(default=None)
    scope: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16), default="building")  # ready, done
    frames: Mapped[int] = mapped_column(default=0)
    acked: Mapped[int] = mapped_column(default=-1)  # highest frame the peer applied
    rows: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot: Mapped[str] = mapped_column(Text, default="{}")  # our vector, JSON
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SyncOutFrame(Base):
    __tablename__ = "sync_out_frame"

    transfer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sync_out_transfer.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SyncInTransfer(Base):
    """A transfer being received: the next frame expected, so frames apply exactly once."""

    __tablename__ = "sync_in_transfer"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    peer: Mapped[uuid.UUID]
    scope: Mapped[str] = mapped_column(String(400))
    next_seq: Mapped[int] = mapped_column(default=0)
    done: Mapped[bool] = mapped_column(default=False)
    rows: Mapped[int] = mapped_column(default=0)
    sender_vector: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SyncPurge(Base):
    """A row removed for good (retention rules): travels like a record so that every
    replica removes it too, and refuses it if a stale copy comes back."""

    __tablename__ = "sync_purge"
    __table_args__ = (Index("ix_sync_purge_version", "sync_instance", "sync_counter"),
                      Index("ix_sync_purge_row", "table_name", "row_id", unique=True))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(100))
    row_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    classroom_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    sync_instance: Mapped[uuid.UUID]
    sync_counter: Mapped[int] = mapped_column(BigInteger)
    sync_hlc: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncAudit(Base):
    """A value that lost a concurrent edit, kept `sync_audit_days` for people to check."""

    __tablename__ = "sync_audit"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(100))
    row_id: Mapped[uuid.UUID]
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(Text)  # JSON
    hlc: Mapped[int] = mapped_column(BigInteger)
    instance: Mapped[uuid.UUID]
    winner_hlc: Mapped[int] = mapped_column(BigInteger)
    winner_instance: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class SyncConflict(Base):
    """An incoming row that could not be stored as is (a natural key already taken by
    another row): kept whole for a technician, never silently dropped."""

    __tablename__ = "sync_conflict"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(100))
    row_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    school_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncEnrollment(Base):
    """On a hub: the central it is enrolled with (one row), and how the last round went."""

    __tablename__ = "sync_enrollment"

    key: Mapped[int] = mapped_column(primary_key=True, default=1)
    hub_id: Mapped[uuid.UUID]
    central_url: Mapped[str] = mapped_column(String(500))
    central_instance: Mapped[uuid.UUID | None] = mapped_column(default=None)
    scope: Mapped[str] = mapped_column(String(400))
    school_id: Mapped[uuid.UUID]
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_ok_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_stats: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    # The central's Ed25519 public key, given at enrollment: its USB bundles and its
    # answers to a challenge are checked against it.
    central_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)


class SyncBlobSent(Base):
    """On a hub: files the central confirmed it holds (not asked about again)."""

    __tablename__ = "sync_blob_sent"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncBlobAlias(Base):
    """A file held in another form: rows name `sha256`, the bytes here are `stored_sha256`,
    the smaller JPEG a hub made of a large photo before sending it (`sync_photo_max_px`).

    On the central it is written when such a file arrives; on a hub, when it fetches a
    file that the central holds only in that form. Rows are never rewritten: whoever opens
    a file by its row's hash looks here when the file itself is absent."""

    __tablename__ = "sync_blob_alias"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    stored_sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(100), default="image/jpeg")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncBlobMissing(Base):
    """On a hub: a file its rows name that neither it nor the central held when last
    asked. It is asked for again after a growing pause (at most a day), not at every sync,
    and the sync page lists it."""

    __tablename__ = "sync_blob_missing"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_missing_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_asked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    asks: Mapped[int] = mapped_column(default=1)


ENGINE_TABLES = [m.__table__ for m in (SyncLocal, SyncVector, SyncKnownInstance,
                                       SyncOutTransfer, SyncOutFrame, SyncInTransfer,
                                       SyncPurge, SyncAudit, SyncConflict, SyncEnrollment,
                                       SyncBlobSent, SyncBlobAlias, SyncBlobMissing)]

__all__ = ["ENGINE_TABLES", "SyncAudit", "SyncBlobAlias", "SyncBlobMissing", "SyncBlobSent",
           "SyncConflict", "SyncEnrollment", "SyncInTransfer",
           "SyncKnownInstance", "SyncLocal", "SyncOutFrame", "SyncOutTransfer", "SyncPurge",
           "SyncVector"]
