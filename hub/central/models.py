"""The central's own tables: enrolled hubs, one-time enrollment tokens, seen nonces.

None of them syncs: they describe the service centre's fleet, not classroom data.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ardoise.db import Base, utcnow
from ardoise.ids import uuid7


class CentralHub(Base):
    """A hub enrolled with this central: its key, its scope and what it last reported."""

    __tablename__ = "central_hub"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(200), default="")
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    scope: Mapped[str] = mapped_column(String(400))
    instance_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_rows_in: Mapped[int] = mapped_column(default=0)
    last_rows_out: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    health: Mapped[str] = mapped_column(Text, default="{}")  # JSON from the hub
    health_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class EnrollToken(Base):
    """A one-time token a technician gives to a hub; only its hash is kept."""

    __tablename__ = "central_enroll_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    scope: Mapped[str] = mapped_column(String(400))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    used_by_hub: Mapped[uuid.UUID | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SeenNonce(Base):
    """Nonces of signed requests within the time window: a replay hits the unique key."""

    __tablename__ = "central_seen_nonce"
    __table_args__ = (Index("ix_central_seen_nonce_at", "seen_at"),)

    hub_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


__all__ = ["CentralHub", "EnrollToken", "SeenNonce"]
