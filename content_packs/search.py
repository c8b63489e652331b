"""Finding resources: filters by subject, cycle, language and kind, and full-text search.

On SQLite (the hub) the text index is an FTS5 table, `resource_fts`, created from code: it
is a cache derived from the catalogue and the pack files, rebuilt by `rebuild_index`, and
not managed by Alembic. It folds accents ("ecole" finds "école"), matches the last word
as a prefix (the user may still be typing) and ranks with bm25, titles weighing most.
Other databases (PostgreSQL on the central) use a fallback: LIKE over accent-free
lowercase columns of `resource`.

User input never reaches FTS5 syntax: it is cut into words and each word is quoted, so
quotes, `*`, `NEAR(`, `AND`... are plain words, never an error shown to a user.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.i18n import N_
from content_packs.catalog import InstalledPack, Resource
from content_packs.manifest import CYCLES, KINDS, SUBJECTS, Manifest, parse_manifest
from content_packs.paths import pack_root, resolve_inside

FTS_TABLE = "resource_fts"
MAX_TERMS = 12
MAX_TERM_LENGTH = 64
MAX_QUERY_LENGTH = 500
MAX_BODY_CHARS = 200_000
MAX_HTML_BYTES = 4 * 1024 * 1024
TITLE_WEIGHT, DESCRIPTION_WEIGHT, BODY_WEIGHT = 10.0, 4.0, 1.0
MAX_LIMIT = 200

_fts = table(FTS_TABLE, column("uid"), column("pack_id"), column("title"),
             column("description"), column("body"))
_WORD = re.compile(r"\w+")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class SearchDoc:
    """What the index holds for one resource."""

    uid: str
    pack_id: str
    title: str
    description: str
    body: str


@dataclass(frozen=True)
class Filters:
    subject: str | None = None
    cycle: str | None = None
    language: str | None = None
    kind: str | None = None


@dataclass
class ResultPage:
    items: list[Resource]
    total: int
    limit: int
    offset: int
    query: str = ""

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass
class Facets:
    """The codes present in the catalogue, with how many resources carry each."""

    subjects: list[tuple[str, int]] = field(default_factory=list)
    cycles: list[tuple[str, int]] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)
    kinds: list[tuple[str, int]] = field(default_factory=list)


# -- text helpers -------------------------------------------------------------------------

def fold(value: str) -> str:
    """Lowercase, accents removed, ligatures opened: the form the fallback compares."""
    value = value.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def query_terms(query: str) -> list[str]:
    """The words of a user's query: letters and digits only, at most MAX_TERMS of them."""
    words = _WORD.findall(unicodedata.normalize("NFKC", query[:MAX_QUERY_LENGTH]))
    return [w[:MAX_TERM_LENGTH] for w in words if w.strip("_")][:MAX_TERMS]


def fts_query(query: str) -> str | None:
    """A safe FTS5 MATCH expression: every word quoted, the last one a prefix. None when
    the query has no word."""
    terms = query_terms(query)
    if not terms:
        return None
    quoted = [f'"{t}"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page: tags, scripts, styles and templates left out."""

    SKIP = frozenset({"script", "style", "template", "noscript", "head"})
    KEEP_IN_HEAD = frozenset({"title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip.append(tag)
        elif tag in self.KEEP_IN_HEAD:
            self._skip.append("")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._add(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP or tag in self.KEEP_IN_HEAD:
            while self._skip:
                if self._skip.pop() in (tag, ""):
                    break

    def handle_data(self, data: str) -> None:
        if not self._skip or self._skip[-1] == "":
            self._add(data)

    def _add(self, data: str) -> None:
        if self.size < MAX_BODY_CHARS and data.strip():
            self.parts.append(data)
            self.size += len(data)


def html_text(path: Path) -> str:
    """The visible text of an HTML file (its first MAX_HTML_BYTES), whitespace collapsed."""
    with open(path, "rb") as fh:
        raw = fh.read(MAX_HTML_BYTES)
    parser = _TextExtractor()
    parser.feed(raw.decode("utf-8", errors="replace"))
    parser.close()
    return " ".join(" ".join(parser.parts).split())[:MAX_BODY_CHARS]


def documents(manifest: Manifest, root: Path) -> list[SearchDoc]:
    """Index entries for the resources of a pack whose files are under `root`."""
    docs = []
    for spec in manifest.resources:
        body = [spec.text]
        if spec.kind == "html":
            entry = resolve_inside(root, spec.entry)
            if entry is not None:
                body.append(html_text(entry))
        docs.append(SearchDoc(
            uid=f"{manifest.id}/{spec.id}", pack_id=manifest.id,
            title=f"{spec.title.fr} {spec.title.en}",
            description=f"{spec.description.fr} {spec.description.en}",
            body=" ".join(b for b in body if b)[:MAX_BODY_CHARS]))
    return docs


# -- the index ----------------------------------------------------------------------------

def uses_fts(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def ensure_index(session: Session) -> None:
    """Create the FTS5 table if it is missing (SQLite only; a no-op elsewhere)."""
    if uses_fts(session):
        session.execute(text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "uid UNINDEXED, pack_id UNINDEXED, title, description, body, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"))


def _index_exists(session: Session) -> bool:
    return session.execute(text(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
        {"n": FTS_TABLE}).first() is not None


def index_pack(session: Session, pack_id: str, docs: Iterable[SearchDoc]) -> None:
    """Replace the index entries of a pack, inside the caller's transaction. The
    resources' rows must already be in the session (flushed)."""
    docs = list(docs)
    if uses_fts(session):
        ensure_index(session)
        session.execute(delete(_fts).where(_fts.c.pack_id == pack_id))
        if docs:
            session.execute(insert(_fts), [vars(d) for d in docs])
        return
    for d in docs:
        session.execute(update(Resource).where(Resource.uid == d.uid).values(
            search_title=fold(d.title), search_text=fold(f"{d.description} {d.body}")))


def unindex_pack(session: Session, pack_id: str) -> None:
    if uses_fts(session) and _index_exists(session):
        session.execute(delete(_fts).where(_fts.c.pack_id == pack_id))


def rebuild_index(session: Session, data_dir: Path) -> int:
    """Rebuild the whole index from the active packs' manifests and files; commits.
    Returns how many resources were indexed."""
    if uses_fts(session):
        session.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
        ensure_index(session)
    count = 0
    for pack in session.scalars(select(InstalledPack).where(InstalledPack.active.is_(True))):
        manifest = parse_manifest(json.loads(pack.manifest_json), pack.pack_id)
        docs = documents(manifest, pack_root(data_dir, pack.pack_id, pack.version))
        index_pack(session, pack.pack_id, docs)
        count += len(docs)
    session.commit()
    return count


# -- queries ------------------------------------------------------------------------------

def check_filters(subject: str | None = None, cycle: str | None = None,
                  language: str | None = None, kind: str | None = None) -> Filters:
    """Filters from user input: empty values mean "any"; unknown codes are refused with
    the list of known ones."""
    subject, cycle, language, kind = (v.strip() if v else None
                                      for v in (subject, cycle, language, kind))
    if subject and subject not in SUBJECTS:
        raise Invalid(N_("Unknown subject %(value)s."), hint=N_("Known codes: %(allowed)s."),
                      value=subject, allowed=", ".join(SUBJECTS))
    if cycle and cycle not in CYCLES:
        raise Invalid(N_("Unknown cycle %(value)s."), hint=N_("Known codes: %(allowed)s."),
                      value=cycle, allowed=", ".join(CYCLES))
    if kind and kind not in KINDS:
        raise Invalid(N_("Unknown kind of resource %(value)s."),
                      hint=N_("Known codes: %(allowed)s."), value=kind,
                      allowed=", ".join(KINDS))
    if language and not _LANGUAGE.match(language):
        raise Invalid(N_("Unknown language %(value)s."), value=language[:20])
    return Filters(subject or None, cycle or None, language or None, kind or None)


def _codes_contain(col: Any, code: str) -> ColumnElement[bool]:
    """`col` (space-separated codes) holds `code`; codes are slugs, so no LIKE escaping."""
    return (literal(" ") + col + literal(" ")).contains(f" {code} ")


def _filter_clauses(filters: Filters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.subject:
        clauses.append(_codes_contain(Resource.subjects, filters.subject))
    if filters.cycle:
        clauses.append(_codes_contain(Resource.cycles, filters.cycle))
    if filters.language:
        clauses.append(Resource.language == filters.language)
    if filters.kind:
        clauses.append(Resource.kind == filters.kind)
    return clauses


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(int(limit), MAX_LIMIT)), max(0, int(offset))


def find_resources(session: Session, query: str = "", filters: Filters | None = None, *,
                   limit: int = 50, offset: int = 0) -> ResultPage:
    """Resources matching the filters and, when `query` has words, the text search (best
    first); without words, in catalogue order (pack, then the manifest's order)."""
    filters = filters or Filters()
    limit, offset = _page(limit, offset)
    clauses = _filter_clauses(filters)
    if query_terms(query):
        if uses_fts(session):
            return _search_fts(session, query, clauses, limit, offset)
        return _search_fallback(session, query, clauses, limit, offset)
    where = and_(true(), *clauses)
    total = session.scalar(select(func.count()).select_from(Resource).where(where)) or 0
    items = session.scalars(select(Resource).where(where).order_by(
        Resource.pack_id, Resource.position).limit(limit).offset(offset)).all()
    return ResultPage(list(items), total, limit, offset, query)


def _search_fts(session: Session, query: str, clauses: list[ColumnElement[bool]],
                limit: int, offset: int) -> ResultPage:
    if not _index_exists(session):
        return ResultPage([], 0, limit, offset, query)
    match = literal_column(FTS_TABLE).op("MATCH")(fts_query(query))
    rank = func.bm25(literal_column(FTS_TABLE), 0.0, 0.0, TITLE_WEIGHT, DESCRIPTION_WEIGHT,
                     BODY_WEIGHT)
    where = and_(match, *clauses)
    joined = select(Resource).join(_fts, _fts.c.uid == Resource.uid).where(where)
    total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    items = session.scalars(joined.order_by(rank, Resource.position)
                            .limit(limit).offset(offset)).all()
    return ResultPage(list(items), total, limit, offset, query)


def _search_fallback(session: Session, query: str, clauses: list[ColumnElement[bool]],
                     limit: int, offset: int) -> ResultPage:
    terms = [fold(t) for t in query_terms(query)]
    matches = [or_(Resource.search_title.contains(t, autoescape=True),
                   Resource.search_text.contains(t, autoescape=True)) for t in terms]
    in_title = sum(case((Resource.search_title.contains(t, autoescape=True), 1), else_=0)
                   for t in terms)
    where = and_(*matches, *clauses)
    total = session.scalar(select(func.count()).select_from(Resource).where(where)) or 0
    items = session.scalars(select(Resource).where(where).order_by(
        in_title.desc(), Resource.pack_id, Resource.position).limit(limit).offset(offset)).all()
    return ResultPage(list(items), total, limit, offset, query)


def facets(session: Session) -> Facets:
    """Which subjects, cycles, languages and kinds the catalogue holds, with counts, in the
    reference order of the codes."""
    subjects: Counter[str] = Counter()
    cycles: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for subj, cyc, lang, kind in session.execute(
            select(Resource.subjects, Resource.cycles, Resource.language, Resource.kind)):
        subjects.update(subj.split())
        cycles.update(cyc.split())
        languages[lang] += 1
        kinds[kind] += 1
    return Facets(
        subjects=[(c, subjects[c]) for c in SUBJECTS if subjects[c]],
        cycles=[(c, cycles[c]) for c in CYCLES if cycles[c]],
        languages=sorted(languages.items()),
        kinds=[(k, kinds[k]) for k in KINDS if kinds[k]])


__all__ = [
    "Facets",
    "Filters",
    "ResultPage",
    "SearchDoc",
    "check_filters",
    "documents",
    "ensure_index",
    "facets",
    "find_resources",
    "fold",
    "fts_query",
    "html_text",
    "index_pack",
    "query_terms",
    "rebuild_index",
    "unindex_pack",
]
