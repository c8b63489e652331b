"""Finding resources: filters by subject, cycle, language and kind, and full-text search.

On SQLite (the hub) the text index is an FTS5 table, `resource_fts`, created from code: it
is a cache derived from the catalogue and the pack files, rebuilt by `rebuild_index`, and
not managed by Alembic. It folds accents ("ecole" finds "école"), matches the last word
as a prefix (the user may still be typing) and ranks with bm25, titles weighing most.
Other databases (PostgreSQL on the central) use a fallback: LIKE over accent-free
lowercase columns of `resource`.

User input never reaches FTS5 syntax: it is cut into words and each word is quoted, so
quotes, `*`, `NEAR(`, `AND`... are plain words, never an error shown to a user.

Speed over tens of thousands of resources: results are ranked and counted in the FTS
table alone (joining every match to `resource` cost four times more), filters are
tokens of an indexed `facets` column matched with the words (an intersection of posting
lists, not a row-by-row test), and French and English stop words are dropped from a query
that has other words ("le cycle de l'eau" searches "cycle" and "eau").
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
MIN_PREFIX = 2  # the index keeps 2- and 3-letter prefixes; one letter would scan them all
MAX_TERM_LENGTH = 64
MAX_QUERY_LENGTH = 500
MAX_BODY_CHARS = 200_000
MAX_HTML_BYTES = 4 * 1024 * 1024
TITLE_WEIGHT, DESCRIPTION_WEIGHT, BODY_WEIGHT = 10.0, 4.0, 1.0
MAX_LIMIT = 200
# Above this many matches, only title matches are ranked (see `_broad_page`).
BROAD_MATCHES = 5000

_fts = table(FTS_TABLE, column("uid"), column("pack_id"), column("title"),
             column("description"), column("body"), column("facets"))
FTS_COLUMNS = ("uid", "pack_id", "title", "description", "body", "facets")
STOP_WORDS = frozenset({"a", "à", "au", "aux", "avec", "ce", "ces", "d", "dans", "de", "des",
    "du", "elle", "en", "est", "et", "il", "ils", "je", "l", "la", "le", "les", "leur", "lui",
    "ma", "mais", "me", "mes", "mon", "ne", "nous", "on", "ou", "par", "pas", "pour", "qu",
    "que", "qui", "sa", "se", "ses", "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un",
    "une", "vos", "votre", "vous", "y", "an", "and", "are", "as", "at", "be", "by", "for",
    "from", "in", "into", "is", "it", "of", "or", "the", "to", "with"})
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


def fts_query(query: str, filters: Filters | None = None, column: str | None = None
              ) -> str | None:
    """A safe FTS5 MATCH expression: every word quoted, the last one a prefix, stop words
    left out when other words remain, and the filters as facet tokens; `column` limits
    the words to one column (title). None when the query has no word."""
    terms = query_terms(query)
    if not terms:
        return None
    kept = [t for t in terms[:-1] if fold(t) not in STOP_WORDS]
    last = terms[-1]
    if (fold(last) in STOP_WORDS or len(last) < 2) and kept:
        quoted = [f'"{t}"' for t in kept]  # a one-letter start of a word finds everything
    elif len(last) < MIN_PREFIX:
        quoted = [f'"{t}"' for t in [*kept, last]]
    else:
        quoted = [f'"{t}"' for t in kept] + [f'"{last}"*']
    expression = " ".join(quoted)
    if column is not None:
        expression = f"{column} : ({expression})"
    tokens = facet_tokens(filters) if filters else []
    if tokens:
        expression = f"({expression}) AND facets : ({' '.join(tokens)})"
    return expression


def _token(prefix: str, code: str) -> str:
    """A facet as one token (the tokenizer splits on dashes): subject
    science-technologie is "ssciencetechnologie"."""
    return prefix + re.sub(r"[^0-9a-z]", "", code.lower())


def facet_tokens(filters: Filters) -> list[str]:
    tokens = []
    for prefix, value in (("s", filters.subject), ("c", filters.cycle),
                          ("l", filters.language), ("k", filters.kind)):
        if value:
            tokens.append(f'"{_token(prefix, value)}"')
    return tokens


def facets_text(kind: str, language: str, subjects: str, cycles: str) -> str:
    """The facet tokens of one resource (its filterable codes), for the index."""
    return " ".join([_token("k", kind), _token("l", language),
                     *(_token("s", c) for c in subjects.split()),
                     *(_token("c", c) for c in cycles.split())])


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


def documents(manifest: Manifest, root: Path, *, checked: bool = False) -> list[SearchDoc]:
    """Index entries for the resources of a pack whose files are under `root`. `checked`:
    the folder was just checked against the manifest (no link leaves it), so paths need
    not be resolved again."""
    docs = []
    for spec in manifest.resources:
        body = [spec.text]
        if spec.kind == "html":
            entry = root / spec.entry if checked else resolve_inside(root, spec.entry)
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


def ensure_index(session: Session) -> bool:
    """Create the FTS5 table if it is missing (SQLite only; a no-op elsewhere). A table
    of an older layout is dropped and made again: True then, and the caller re-indexes
    (`upgrade_index`)."""
    if not uses_fts(session):
        return False
    columns = [row[1] for row in session.execute(text(f"PRAGMA table_info({FTS_TABLE})"))]
    if columns and tuple(columns) == FTS_COLUMNS:
        return False
    session.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
    session.execute(text(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
        "uid UNINDEXED, pack_id UNINDEXED, title, description, body, facets, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"))
    return bool(columns)


def upgrade_index(session: Session, data_dir: Path) -> None:
    """Re-index every active pack when the index had an older layout (no commit)."""
    if ensure_index(session):
        for pack in session.scalars(select(InstalledPack).where(
                InstalledPack.active.is_(True))):
            manifest = parse_manifest(json.loads(pack.manifest_json), pack.pack_id)
            index_pack(session, pack.pack_id,
                       documents(manifest, pack_root(data_dir, pack.pack_id, pack.version)))


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
        codes = {uid: facets_text(kind, language, subjects, cycles)
                 for uid, kind, language, subjects, cycles in session.execute(
                     select(Resource.uid, Resource.kind, Resource.language, Resource.subjects,
                            Resource.cycles).where(Resource.pack_id == pack_id))}
        if docs:
            session.execute(insert(_fts), [{**vars(d), "facets": codes.get(d.uid, "")}
                                           for d in docs])
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
            return _search_fts(session, query, filters, limit, offset)
        return _search_fallback(session, query, clauses, limit, offset)
    where = and_(true(), *clauses)
    total = session.scalar(select(func.count()).select_from(Resource).where(where)) or 0
    items = session.scalars(select(Resource).where(where).order_by(
        Resource.pack_id, Resource.position).limit(limit).offset(offset)).all()
    return ResultPage(list(items), total, limit, offset, query)


def _search_fts(session: Session, query: str, filters: Filters, limit: int, offset: int
                ) -> ResultPage:
    if not _index_exists(session):
        return ResultPage([], 0, limit, offset, query)
    match = literal_column(FTS_TABLE).op("MATCH")(fts_query(query, filters))
    rank = func.bm25(literal_column(FTS_TABLE), 0.0, 0.0, TITLE_WEIGHT, DESCRIPTION_WEIGHT,
                     BODY_WEIGHT, 0.0)
    total = session.scalar(select(func.count()).select_from(_fts).where(match)) or 0
    if total <= BROAD_MATCHES:
        uids = list(session.scalars(select(_fts.c.uid).where(match).order_by(rank)
                                    .limit(limit).offset(offset)))
    else:
        uids = _broad_page(session, query, filters, match, rank, limit, offset)
    found = {r.uid: r for r in session.scalars(select(Resource).where(Resource.uid.in_(uids)))}
    return ResultPage([found[u] for u in uids if u in found], total, limit, offset, query)


def _broad_page(session: Session, query: str, filters: Filters, match: Any, rank: Any,
                limit: int, offset: int) -> list[str]:
    """A page of a query that matches most of the library (its words are everywhere):
    ranking every match would cost more than the user waits, so the resources with the
    words in their title come first, ranked, then the others in catalogue order."""
    wanted = offset + limit
    in_title = literal_column(FTS_TABLE).op("MATCH")(fts_query(query, filters, "title"))
    first = list(session.scalars(select(_fts.c.uid).where(in_title).order_by(rank)
                                 .limit(wanted)))
    if len(first) < wanted:
        seen = set(first)
        rest = session.scalars(select(_fts.c.uid).where(match).order_by(
            literal_column("rowid")).limit(wanted + len(first)))
        first += [u for u in rest if u not in seen][:wanted - len(first)]
    return first[offset:wanted]


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
    "STOP_WORDS",
    "Facets",
    "Filters",
    "ResultPage",
    "SearchDoc",
    "check_filters",
    "documents",
    "ensure_index",
    "facet_tokens",
    "facets",
    "facets_text",
    "find_resources",
    "fold",
    "fts_query",
    "html_text",
    "index_pack",
    "query_terms",
    "rebuild_index",
    "unindex_pack",
    "upgrade_index",
]
