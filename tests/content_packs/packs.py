"""Small packs built on the fly for the tests, and snapshots of what an install touches."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from content_packs.manifest import write_manifest

LESSON = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>L'école du village</title><style>.cache { color: red }</style></head>
<body><h1>L'école du village</h1>
<p>Les élèves de la petite école apprennent à lire près du fleuve.</p>
<script>var motcache = "zebrure";</script>
<img src="../images/dessin.svg" alt="Un phare sur la côte">
</body></html>
"""
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script>'
       '<circle cx="5" cy="5" r="4"/></svg>')
# Big enough for meaningful byte ranges; deterministic so hashes are stable.
VIDEO = bytes((i * 7 + i // 256) % 256 for i in range(100_000))
AUDIO = bytes((i * 13) % 256 for i in range(20_000))
PDF = b"%PDF-1.4\n% test\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

META: dict[str, Any] = {
    "id": "essai", "version": "1.0.0",
    "title": {"fr": "Paquet d'essai", "en": "Test pack"},
    "description": {"fr": "Pour les tests.", "en": "For the tests."},
    "language": "fr", "subjects": ["francais", "science-technologie"],
    "cycles": ["primaire-2", "primaire-3"], "licence": "CC-BY-SA-4.0",
    "publisher": "École d'essai",
}


def default_files() -> dict[str, bytes | str]:
    return {
        "lecons/ecole.html": LESSON,
        "lecons/fleuve.html": "<html><body><h1>Le fleuve</h1><p>On parle de l'école "
                              "seulement ici, dans le corps du texte.</p></body></html>",
        "images/dessin.svg": SVG,
        "fiches/fiche.pdf": PDF,
        "audio/son.mp3": AUDIO,
        "videos/film.mp4": VIDEO,
        "documents/notes.txt": "Des notes à télécharger.\n",
        "lessons/colours.html": "<h1>Colours</h1><p>Red, blue and green.</p>",
    }


def default_resources() -> list[dict[str, Any]]:
    return [
        {"id": "ecole", "kind": "html", "entry": "lecons/ecole.html",
         "title": {"fr": "L'école du village", "en": "The village school"},
         "description": {"fr": "Une leçon sur l'école.", "en": "A lesson about school."},
         "subjects": ["francais"], "cycles": ["primaire-2"], "duration": 300},
        {"id": "fleuve", "kind": "html", "entry": "lecons/fleuve.html",
         "title": {"fr": "Le fleuve", "en": "The river"},
         "subjects": ["science-technologie"], "cycles": ["primaire-3"]},
        {"id": "dessin", "kind": "image", "entry": "images/dessin.svg",
         "title": {"fr": "Un dessin", "en": "A drawing"}},
        {"id": "fiche", "kind": "pdf", "entry": "fiches/fiche.pdf",
         "title": {"fr": "Fiche de fractions", "en": "Fractions worksheet"},
         "subjects": ["mathematique"], "text": "numérateur dénominateur"},
        {"id": "son", "kind": "audio", "entry": "audio/son.mp3",
         "title": {"fr": "Un son", "en": "A sound"}, "duration": 4},
        {"id": "film", "kind": "video", "entry": "videos/film.mp4",
         "title": {"fr": "Un film", "en": "A film"}, "duration": 8},
        {"id": "notes", "kind": "document", "entry": "documents/notes.txt",
         "title": {"fr": "Des notes", "en": "Some notes"}},
        {"id": "colours", "kind": "html", "entry": "lessons/colours.html", "language": "en",
         "title": {"fr": "Les couleurs", "en": "Colours"}, "subjects": ["anglais"]},
    ]


def build_pack(root: Path, *, files: dict[str, bytes | str] | None = None,
               resources: list[dict[str, Any]] | None = None, **meta: Any) -> Path:
    """Write a pack folder under `root` and its manifest; returns the folder."""
    fields = {**META, **meta}
    folder = root / f"{fields['id']}-{fields['version']}"
    for rel, content in (default_files() if files is None else files).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    write_manifest(folder, fields, default_resources() if resources is None else resources)
    return folder


def edit_manifest(folder: Path, change: Any) -> None:
    """Apply `change(data)` to the folder's manifest.json (to make it wrong on purpose)."""
    path = folder / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def tree(data_dir: Path) -> dict[str, object]:
    """Every path under the data folder but the database, with its size or link target."""
    out: dict[str, object] = {}
    for root, dirs, names in os.walk(data_dir):
        for name in dirs + names:
            full = Path(root) / name
            rel = full.relative_to(data_dir).as_posix()
            if rel.startswith(("ardoise.db", "secret_key")):
                continue
            out[rel] = (os.readlink(full) if full.is_symlink()
                        else "dir" if full.is_dir() else full.stat().st_size)
    return out


def catalogue(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The rows an install writes (catalogue tables and the search index)."""
    session.rollback()
    state = {table: [tuple(r) for r in session.execute(text(
        f"SELECT * FROM {table} ORDER BY 1, 2"))]
        for table in ("installed_pack", "resource", "resource_file")}
    has_fts = session.execute(text(
        "SELECT 1 FROM sqlite_master WHERE name = 'resource_fts'")).first()
    state["resource_fts"] = ([tuple(r) for r in session.execute(text(
        "SELECT uid, title FROM resource_fts ORDER BY uid"))] if has_fts else [])
    return state
