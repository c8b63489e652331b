"""The catalogue of installed packs and their resources (content, not user data: never synced)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ardoise.db import Base, utcnow


class InstalledPack(Base):
    """One installed version of a pack; exactly one version per pack is active."""

    __tablename__ = "installed_pack"
    __table_args__ = (Index("ix_installed_pack_active", "pack_id", "active"),)

    pack_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    active: Mapped[bool] = mapped_column(default=False)
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(8))
    licence: Mapped[str] = mapped_column(String(40))
    manifest_json: Mapped[str] = mapped_column(Text)
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Resource(Base):
    """A resource of the active version of a pack. `uid` ("pack/resource") is stable across
    versions, so assignments that point at it keep working after an update."""

    __tablename__ = "resource"

    uid: Mapped[str] = mapped_column(String(300), primary_key=True)
    pack_id: Mapped[str] = mapped_column(String(100), index=True)
    pack_version: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    entry: Mapped[str] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(100))
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    description_fr: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), index=True)
    subjects: Mapped[str] = mapped_column(String(300), default="")  # space-separated codes
    cycles: Mapped[str] = mapped_column(String(100), default="")  # space-separated codes
    duration_seconds: Mapped[int | None] = mapped_column(default=None)
    position: Mapped[int] = mapped_column(default=0)


class ResourceFile(Base):
    """A file of an installed pack version, with its hash (what `pack verify` checks)."""

    __tablename__ = "resource_file"

    pack_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_resource_file_pack", "pack_id", "version"),
    )


