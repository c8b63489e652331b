"""ZIM archives (Kiwix's format: offline Wikipedia, Vikidia, Wiktionary) inside a pack.

A pack lists the .zim file like any other (hash, size, signature); the hub reads articles
and searches it through the `libzim` bindings, without unpacking it. Archives are opened
once per process and kept (reading is thread-safe in libzim); a new pack version is a new
file, so the cache is keyed by path, inode and modification time.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.i18n import N_
from content_packs.catalog import Resource, served_file

if TYPE_CHECKING:  # libzim (4.5 MiB) is loaded when a ZIM is first opened, not on import
    from libzim.reader import Archive  # type: ignore[import-untyped]

MAX_REDIRECTS = 10
MAX_RESULTS = 50


@dataclass(frozen=True)
class ZimArticle:
    path: str
    title: str
    mimetype: str
    content: bytes


@dataclass(frozen=True)
class ZimHit:
    path: str
    title: str


@functools.lru_cache(maxsize=16)
def _open(path: str, _inode: int, _mtime: int) -> Archive:
    from libzim.reader import Archive  # type: ignore[import-untyped]

    return Archive(path)


def open_archive(path: Path) -> Archive:
    """The archive at `path` (cached); refuses a file that is not a readable ZIM."""
    try:
        st = os.stat(path)
        return _open(str(path), st.st_ino, st.st_mtime_ns)
    except (OSError, RuntimeError) as exc:
        raise Invalid(N_("%(file)s is not a readable ZIM archive: %(reason)s"),
                      file=Path(path).name, reason=str(exc)[:200]) from None


def main_path(path: Path) -> str | None:
    """The path of the archive's main page (its home), redirects followed."""
    archive = open_archive(path)
    if not archive.has_main_entry:
        return None
    entry = archive.main_entry
    for _ in range(MAX_REDIRECTS):
        if not entry.is_redirect:
            return str(entry.path)
        entry = entry.get_redirect_entry()
    return None


def article(path: Path, entry_path: str) -> ZimArticle | str | None:
    """The entry at `entry_path`: a ZimArticle, the path it redirects to (str), or None."""
    archive = open_archive(path)
    try:
        if not archive.has_entry_by_path(entry_path):
            return None
        entry = archive.get_entry_by_path(entry_path)
    except (RuntimeError, KeyError):
        return None
    if entry.is_redirect:
        return str(entry.get_redirect_entry().path)
    item = entry.get_item()
    return ZimArticle(str(entry.path), str(entry.title), str(item.mimetype),
                      bytes(item.content))


def search(path: Path, query: str, limit: int = 20) -> tuple[int, list[ZimHit]]:
    """Articles matching `query`: the archive's full-text index when it has one, else its
    title suggestions. Returns (estimated total, hits)."""
    query = " ".join(query.split())[:200]
    if not query:
        return 0, []
    archive = open_archive(path)
    limit = max(1, min(limit, MAX_RESULTS))
    from libzim.search import Query, Searcher  # type: ignore[import-untyped]
    from libzim.suggestion import SuggestionSearcher  # type: ignore[import-untyped]

    if archive.has_fulltext_index:
        found = Searcher(archive).search(Query().set_query(query))
    else:
        found = SuggestionSearcher(archive).suggest(query)
    total = int(found.getEstimatedMatches())
    hits = []
    for entry_path in found.getResults(0, limit):
        try:
            title = str(archive.get_entry_by_path(entry_path).title)
        except (RuntimeError, KeyError):
            continue
        hits.append(ZimHit(str(entry_path), title or str(entry_path)))
    return total, hits


def archive_for(session: Session, data_dir: Path, pack_id: str, resource_id: str
                ) -> Path | None:
    """The .zim file of the resource `pack_id/resource_id` in the active version, or None
    when there is no such ZIM resource (the same checks as any served file)."""
    if "/" in resource_id:
        return None
    resource = session.get(Resource, f"{pack_id}/{resource_id}")
    if resource is None or resource.kind != "zim" or resource.pack_id != pack_id:
        return None
    found = served_file(session, Path(data_dir), pack_id, resource.entry)
    return found.path if found is not None else None


def search_library(session: Session, data_dir: Path, query: str, *, archives: int = 5,
                   per_archive: int = 5) -> list[tuple[Resource, int, list[ZimHit]]]:
    """Articles matching `query` in the library's ZIM archives (the first `archives` of
    them), for the library's search page: (resource, estimated total, hits)."""
    out = []
    rows = session.scalars(select(Resource).where(Resource.kind == "zim")
                           .order_by(Resource.pack_id, Resource.position).limit(archives))
    for resource in rows:
        path = archive_for(session, data_dir, resource.pack_id, resource.resource_id)
        if path is None:
            continue
        try:
            total, hits = search(path, query, per_archive)
        except Invalid:
            continue
        if hits:
            out.append((resource, total, hits))
    return out


def metadata(path: Path) -> dict[str, str]:
    """The archive's metadata (Title, Description, Language...), for `pack build`."""
    archive = open_archive(path)
    out = {}
    for key in archive.metadata_keys:
        if key.startswith("Illustration_"):
            continue
        try:
            out[key] = bytes(archive.get_metadata(key)).decode("utf-8", "replace")
        except (RuntimeError, KeyError):
            continue
    return out


__all__ = ["ZimArticle", "ZimHit", "archive_for", "article", "main_path", "metadata",
           "open_archive", "search", "search_library"]
