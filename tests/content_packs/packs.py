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


def signed_pack(root: Path, publisher: Any, **kwargs: Any) -> Path:
    """A pack folder built and signed by `publisher` (a tests.content_packs.keys.Publisher)."""
    return publisher.sign(build_pack(root, **kwargs))


def version_two_files() -> dict[str, bytes | str]:
    """Version 2.0.0 of the default pack: one lesson rewritten, one file added, the rest
    unchanged (the same bytes as 1.0.0)."""
    files = default_files()
    files["lecons/ecole.html"] = LESSON.replace("petite école", "grande école")
    files["lecons/nouveau.html"] = "<h1>Nouveau</h1><p>Une leçon de plus.</p>"
    return files


def publish(tree: Path, folder: Path, publisher: Any) -> Path:
    """Put a signed pack folder into a served tree, index re-signed."""
    from content_packs.publish import publish_pack

    return publish_pack(folder, tree, trust=publisher.trust, key=publisher.key).path


def installed_state(session: Session, data_dir: Path, pack_id: str = "essai"
                    ) -> tuple[str | None, str | None]:
    """(active version in the database, version the `current` link names), after checking
    that every file of the active version matches its recorded hash, so a version counted
    as installed is never a mix."""
    import hashlib

    session.rollback()
    active = session.execute(text(
        "SELECT version FROM installed_pack WHERE pack_id = :p AND active"),
        {"p": pack_id}).scalar()
    link = data_dir / "packs" / pack_id / "current"
    current = os.readlink(link) if link.is_symlink() else None
    for version in {active, current} - {None}:
        rows = session.execute(text(
            "SELECT path, sha256 FROM resource_file WHERE pack_id = :p AND version = :v"),
            {"p": pack_id, "v": version}).all()
        assert rows, f"no file rows for {pack_id} {version}"
        root = data_dir / "packs" / pack_id / str(version)
        for path, sha in rows:
            data = (root / path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha, (version, path)
    if active is not None:
        resources = session.execute(text(
            "SELECT DISTINCT pack_version FROM resource WHERE pack_id = :p"),
            {"p": pack_id}).scalars().all()
        assert resources == [active], (resources, active)
    return active, current


def next_version(previous: Path, root: Path, publisher: Any, version: str = "2.0.0",
                 changes: dict[str, bytes | str] | None = None) -> Path:
    """A new version made as a publisher would: the previous folder copied (times kept),
    some files changed or added, the manifest rebuilt and signed again."""
    import shutil

    from content_packs.manifest import read_manifest

    folder = root / f"essai-{version}"
    shutil.copytree(previous, folder)
    for name in ("manifest.json", "manifest.sig"):
        (folder / name).unlink(missing_ok=True)
    changes = changes if changes is not None else {
        "lecons/ecole.html": LESSON.replace("petite école", "grande école"),
        "lecons/nouveau.html": "<h1>Nouveau</h1><p>Une leçon de plus.</p>"}
    for rel, content in changes.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    old = read_manifest(previous)
    meta = {k: v for k, v in old.to_dict().items() if k not in ("schema", "files", "resources")}
    meta["version"] = version
    write_manifest(folder, meta, [r.to_dict() for r in old.resources])
    return publisher.sign(folder)
