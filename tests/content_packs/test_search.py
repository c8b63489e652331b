"""Search: accents folded, last word as a prefix, titles first, hostile input harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from content_packs.install import install_pack, reindex
from content_packs.search import (
    Filters,
    check_filters,
    facets,
    find_resources,
    fold,
    fts_query,
    html_text,
)
from tests.content_packs.packs import LESSON, build_pack


@pytest.fixture
def library(tmp_path: Path, data_dir: Path, session: Session) -> Session:
    install_pack(session, data_dir, build_pack(tmp_path))
    return session


def uids(session: Session, query: str = "", **filters: str) -> list[str]:
    page = find_resources(session, query, check_filters(**filters))
    return [r.uid for r in page.items]


def test_accents_are_folded_both_ways(library: Session) -> None:
    assert "essai/ecole" in uids(library, "ecole")
    assert "essai/ecole" in uids(library, "ÉCOLE")
    assert uids(library, "numerateur") == ["essai/fiche"]  # manifest text, accent dropped
    assert uids(library, "élèves") == ["essai/ecole"]  # HTML body


def test_the_last_word_is_a_prefix(library: Session) -> None:
    assert uids(library, "fract") == ["essai/fiche"]
    assert uids(library, "village ec") == ["essai/ecole"]
    assert uids(library, "fract fiche") == []  # only the last word is a prefix


def test_titles_rank_before_bodies(library: Session) -> None:
    # "école" is in the title of one lesson and only in the body of the other.
    assert uids(library, "école")[:2] == ["essai/ecole", "essai/fleuve"]
    page = find_resources(library, "école")
    assert page.total == 2 and page.query == "école"


def test_scripts_and_styles_are_not_indexed(library: Session, tmp_path: Path) -> None:
    assert uids(library, "zebrure") == []
    assert uids(library, "cache") == []
    assert uids(library, "phare") == ["essai/ecole"]  # an image's alt text is
    page = tmp_path / "p.html"
    page.write_text(LESSON, encoding="utf-8")
    extracted = html_text(page)
    assert "Les élèves de la petite école" in extracted
    assert "zebrure" not in extracted and "color" not in extracted


@pytest.mark.parametrize("hostile", [
    '"', '""', '"école', "*", "école*", "NEAR(", "NEAR(école fleuve)", "AND", "école AND",
    "OR fleuve", "NOT", "-école", "title:école", "^école", "(", ")", "{}", "'", "école'",
    "a\x00b", "%", "_", "\\", "école OR 1=1; DROP TABLE resource; --", "   ", "",
    "é" * 2000, " ".join(["mot"] * 100),
])
def test_hostile_input_never_raises(library: Session, hostile: str) -> None:
    page = find_resources(library, hostile)
    assert page.total >= 0
    assert library.execute(text("SELECT count(*) FROM resource")).scalar() == 8


def test_operators_are_plain_words(library: Session) -> None:
    assert fts_query('NEAR(école "fleuve") NOT *') == '"NEAR" "école" "fleuve" "NOT"*'
    assert fts_query("  ") is None
    assert uids(library, "école NOT") == []  # "NOT" is a word no resource has


def test_stop_words_are_left_out_when_other_words_remain(library: Session) -> None:
    assert fts_query("le cycle de l'eau") == '"cycle" "eau"*'
    assert fts_query("école AND") == '"école"'  # "and" is an English stop word
    assert fts_query("les") == '"les"*'  # nothing else to look for
    assert uids(library, "la petite école du")[0] == "essai/ecole"


def test_filters_are_matched_with_the_words(library: Session) -> None:
    assert fts_query("école", Filters(subject="science-technologie", kind="html")) == (
        '("école"*) AND facets : ("ssciencetechnologie" "khtml")')
    assert uids(library, "école", subject="science-technologie") == ["essai/fleuve"]
    assert uids(library, "école", cycle="primaire-2", kind="html") == ["essai/ecole"]
    assert "essai/ecole" in uids(library, "-école")


def test_no_words_lists_everything_in_catalogue_order(library: Session) -> None:
    assert uids(library, "!!!")[:3] == ["essai/ecole", "essai/fleuve", "essai/dessin"]
    assert find_resources(library, "").total == 8


def test_filters(library: Session) -> None:
    assert uids(library, subject="mathematique") == ["essai/fiche"]
    # Resources without subjects of their own carry the pack's.
    assert "essai/film" in uids(library, subject="francais")
    assert uids(library, cycle="primaire-2")[0] == "essai/ecole"
    assert "essai/fleuve" not in uids(library, cycle="primaire-2")
    assert uids(library, language="en") == ["essai/colours"]
    assert uids(library, kind="pdf") == ["essai/fiche"]
    assert uids(library, "école", subject="francais") == ["essai/ecole"]
    assert uids(library, "école", language="en") == []


def test_unknown_filters_are_refused_with_the_known_codes() -> None:
    with pytest.raises(Invalid) as err:
        check_filters(subject="histoire")
    assert "histoire" in err.value.render("en") and "mathematique" in err.value.render("en")
    with pytest.raises(Invalid):
        check_filters(cycle="primaire-9")
    with pytest.raises(Invalid):
        check_filters(kind="game")
    with pytest.raises(Invalid):
        check_filters(language="'; --")
    assert check_filters(subject="", cycle=" ") == Filters()


def test_paging(library: Session) -> None:
    first = find_resources(library, limit=3)
    second = find_resources(library, limit=3, offset=3)
    assert len(first.items) == 3 and first.has_next
    assert not {r.uid for r in first.items} & {r.uid for r in second.items}
    assert not find_resources(library, limit=3, offset=6).has_next


def test_facets_count_what_is_there(library: Session) -> None:
    f = facets(library)
    assert dict(f.languages) == {"fr": 7, "en": 1}
    assert dict(f.kinds)["html"] == 3
    assert [code for code, _n in f.subjects] == [
        "francais", "anglais", "mathematique", "science-technologie"]


def test_the_index_is_a_rebuildable_cache(library: Session, data_dir: Path) -> None:
    library.execute(text("DROP TABLE resource_fts"))
    library.commit()
    assert uids(library, "ecole") == []  # no index: no results, no error
    assert reindex(library, data_dir) == 8
    assert uids(library, "ecole")[0] == "essai/ecole"


def test_fold() -> None:
    assert fold("  L'École  des Œufs ") == "l'ecole des oeufs"


def test_a_query_matching_most_of_the_library_ranks_titles_first(
        library: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from content_packs import search

    everything = uids(library, "école")
    monkeypatch.setattr(search, "BROAD_MATCHES", 1)
    broad = find_resources(library, "école", limit=2)
    assert broad.total == len(everything) and len(broad.items) == 2
    assert broad.items[0].uid == "essai/ecole"  # "école" in its title
    rest = find_resources(library, "école", limit=10, offset=2)
    assert {r.uid for r in broad.items} | {r.uid for r in rest.items} == set(everything)
