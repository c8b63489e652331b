"""The catalogue of installed packs and their resources (content, not user data: never synced).

The rows are derived from the manifests of the installed packs: an install replaces them
in one transaction. Reading functions here take a Session and plain values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ardoise.db import Base, utcnow
from ardoise.errors import NotFound
from ardoise.i18n import N_
from content_packs.paths import is_safe_relative, pack_root, resolve_inside


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
    publisher: Mapped[str] = mapped_column(String(200), default="")
    file_count: Mapped[int] = mapped_column(default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    manifest_json: Mapped[str] = mapped_column(Text)
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def title(self, lang: str | None) -> str:
        return (self.title_en or self.title_fr) if lang and lang.startswith("en") else (
            self.title_fr or self.title_en)


class Resource(Base):
    """A resource of the active version of a pack. `uid` ("pack/resource") is stable across
    versions, so assignments that point at it keep working after an update.

    `search_title` and `search_text` hold accent-free lowercase text for the search
    fallback on databases without SQLite's FTS5 (PostgreSQL on the central); on SQLite
    they stay empty and the `resource_fts` index is used instead.
    """

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
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")

    @property
    def resource_id(self) -> str:
        return self.uid.split("/", 1)[1]

    @property
    def subject_codes(self) -> list[str]:
        return self.subjects.split()

    @property
    def cycle_codes(self) -> list[str]:
        return self.cycles.split()

    def title(self, lang: str | None) -> str:
        return (self.title_en or self.title_fr) if lang and lang.startswith("en") else (
            self.title_fr or self.title_en)

    def description(self, lang: str | None) -> str:
        return (self.description_en or self.description_fr) if lang and lang.startswith(
            "en") else (self.description_fr or self.description_en)


class ResourceFile(Base):
    """A file of an installed pack version, with its hash (what `pack verify` checks)."""

    __tablename__ = "resource_file"

    pack_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_resource_file_pack", "pack_id", "version"),
    )


@dataclass(frozen=True)
class ServedFile:
    """A file of the active version of a pack, ready to be sent."""

    path: Path
    media_type: str
    sha256: str
    size: int
    version: str


def list_packs(session: Session) -> list[InstalledPack]:
    """Every installed version, active ones first within each pack."""
    return list(session.scalars(select(InstalledPack).order_by(
        InstalledPack.pack_id, InstalledPack.active.desc(), InstalledPack.installed_at.desc())))


def active_pack(session: Session, pack_id: str) -> InstalledPack | None:
    return session.scalars(select(InstalledPack).where(
        InstalledPack.pack_id == pack_id, InstalledPack.active.is_(True))).first()


def get_resource(session: Session, uid: str) -> Resource:
    """The resource with this uid ("pack/resource"), or NotFound."""
    resource = session.get(Resource, uid) if len(uid) <= 300 else None
    if resource is None:
        raise NotFound(N_("Resource %(uid)s is not in the library."), uid=uid)
    return resource


def resource_files(session: Session, resource: Resource) -> dict[str, ResourceFile]:
    """The files of the resource's pack version, by path (for sizes and media types)."""
    rows = session.scalars(select(ResourceFile).where(
        ResourceFile.pack_id == resource.pack_id,
        ResourceFile.version == resource.pack_version))
    return {row.path: row for row in rows}


def served_file(session: Session, data_dir: Path, pack_id: str, path: str
                ) -> ServedFile | None:
    """The file `path` of the active version of `pack_id`, or None.

    Only files listed in the manifest are served, and the path must resolve inside the
    version's folder (no `..`, absolute path, backslash or symlink leaving it).
    """
    if not is_safe_relative(pack_id) or "/" in pack_id or not is_safe_relative(path):
        return None
    pack = active_pack(session, pack_id)
    if pack is None:
        return None
    row = session.get(ResourceFile, (pack_id, pack.version, path))
    if row is None:
        return None
    full = resolve_inside(pack_root(data_dir, pack_id, pack.version), path)
    if full is None:
        return None
    return ServedFile(path=full, media_type=row.media_type, sha256=row.sha256, size=row.size,
                      version=pack.version)


__all__ = [
    "InstalledPack",
    "Resource",
    "ResourceFile",
    "ServedFile",
    "active_pack",
    "get_resource",
    "list_packs",
    "resource_files",
    "served_file",
]
