"""Library resources as assignments see them: titles, links, search.

Assignments point at resources by their stable uid ("pack/resource"), which survives pack
updates. A pack may also be removed after an assignment was written; such a resource is
shown as unavailable instead of breaking the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_packs import find_resources
from content_packs.catalog import Resource

SEARCH_LIMIT = 40


@dataclass(frozen=True)
class ResourceRef:
    uid: str
    title: str
    kind: str
    available: bool

    @property
    def url(self) -> str:
        return library_url(self.uid)


def library_url(uid: str) -> str:
    """The library's page for a resource."""
    return "/library/r/" + quote(uid, safe="/")


def _ref(r: Resource, locale: str) -> ResourceRef:
    return ResourceRef(r.uid, r.title(locale) or r.uid, r.kind, True)


def describe(s: Session, uids: Iterable[str], locale: str) -> list[ResourceRef]:
    """The resources in the order given; uids no longer in the library come back
    unavailable, titled by their uid."""
    wanted = list(dict.fromkeys(uids))
    if not wanted:
        return []
    found = {r.uid: r for r in s.scalars(select(Resource).where(Resource.uid.in_(wanted)))}
    return [_ref(found[u], locale) if u in found else ResourceRef(u, u, "", False)
            for u in wanted]


def missing(s: Session, uids: Iterable[str]) -> list[str]:
    """The uids that are not in the library."""
    wanted = set(uids)
    if not wanted:
        return []
    present = set(s.scalars(select(Resource.uid).where(Resource.uid.in_(wanted))))
    return sorted(wanted - present)


def search(s: Session, query: str, locale: str, limit: int = SEARCH_LIMIT
           ) -> list[ResourceRef]:
    """The library's own search (the same results as its search page); an empty query
    lists the first `limit` resources in catalogue order."""
    return [_ref(r, locale) for r in find_resources(s, query, limit=limit).items]
