"""The pack manifest: `manifest.json` at the root of a pack, read into frozen dataclasses.

A manifest comes from outside the hub (a publisher, a USB stick, a mirror), so every field
is checked and every refusal names the pack, the field and the problem, in the user's
language. Unknown top-level keys are ignored so that later versions of the format (e.g.
signatures) can add fields without breaking older hubs; schema changes bump `schema`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ardoise.errors import Invalid
from ardoise.i18n import N_, translate
from content_packs.paths import path_problem

SCHEMA = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
# Files at the root of a pack folder that are not content and so not listed in `files`:
# the manifest, and the publisher's signature of its exact bytes.
PACK_METADATA_FILES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
HASH_CHUNK = 1024 * 1024

KINDS = ("html", "pdf", "image", "audio", "video", "document", "zim")
ZIM_MEDIA_TYPE = "application/x-zim"

# PFEQ subjects and cycles: the codes packs use, with an English label translated on pages.
SUBJECTS: dict[str, str] = {
    "francais": N_("French"),
    "anglais": N_("English as a second language"),
    "mathematique": N_("Mathematics"),
    "science-technologie": N_("Science and technology"),
    "univers-social": N_("Social sciences"),
    "arts": N_("Arts"),
    "education-physique": N_("Physical education and health"),
    "culture-citoyennete": N_("Culture and citizenship in Québec"),
    "langues-autochtones": N_("Indigenous languages"),
    "developpement-personnel": N_("Personal development"),
}
CYCLES: dict[str, str] = {
    "prescolaire": N_("Preschool"),
    "primaire-1": N_("Elementary, cycle 1"),
    "primaire-2": N_("Elementary, cycle 2"),
    "primaire-3": N_("Elementary, cycle 3"),
    "secondaire-1": N_("Secondary, cycle 1"),
    "secondaire-2": N_("Secondary, cycle 2"),
}
KIND_LABELS: dict[str, str] = {
    "html": N_("Activity"),
    "pdf": N_("PDF document"),
    "image": N_("Image"),
    "audio": N_("Audio"),
    "video": N_("Video"),
    "document": N_("File to download"),
    "zim": N_("Offline encyclopedia"),
}
# The Creative Commons licences of open educational resources, by identifier.
LICENCES: dict[str, str] = {
    "CC0-1.0": N_("Public domain dedication (CC0 1.0)"),
    "CC-BY-4.0": N_("Creative Commons Attribution 4.0"),
    "CC-BY-SA-4.0": N_("Creative Commons Attribution-ShareAlike 4.0"),
    "CC-BY-ND-4.0": N_("Creative Commons Attribution-NoDerivatives 4.0"),
    "CC-BY-NC-4.0": N_("Creative Commons Attribution-NonCommercial 4.0"),
    "CC-BY-NC-SA-4.0": N_("Creative Commons Attribution-NonCommercial-ShareAlike 4.0"),
    "CC-BY-NC-ND-4.0": N_("Creative Commons Attribution-NonCommercial-NoDerivatives 4.0"),
}
# Languages get their name from their own code (shown as is, e.g. "fr", "en", "iu").

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_LICENCE = re.compile(r"^(?:CC0-1\.0|CC-BY(?:-NC)?(?:-SA|-ND)?-(?:2\.0|2\.5|3\.0|4\.0))$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
_MEDIA_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}(?:; ?[a-z0-9_.-]+=[A-Za-z0-9_.-]+)*$")
_KIND_MEDIA: dict[str, Callable[[str], bool]] = {
    "html": lambda t: t in ("text/html", "application/xhtml+xml"),
    "pdf": lambda t: t == "application/pdf",
    "image": lambda t: t.startswith("image/"),
    "audio": lambda t: t.startswith("audio/"),
    "video": lambda t: t.startswith("video/"),
    "document": lambda t: True,
    "zim": lambda t: t == ZIM_MEDIA_TYPE,
}
MAX_REQUIRES = 20
MAX_TITLE = 300
MAX_DESCRIPTION = 5000
MAX_TEXT = 200_000
MAX_PUBLISHER = 200


class ManifestError(Invalid):
    """A manifest that cannot be used: names the pack, the field and the problem.

    `problem` is itself a message id, translated along with the message.
    """

    code = "invalid_manifest"
    translated_params = ("problem",)

    def render(self, locale: str | None = None) -> str:
        params = {k: translate(v, locale, **self.params) if k in self.translated_params else v
                  for k, v in self.params.items()}
        text = translate(self.message, locale, **params)
        if self.hint:
            text = f"{text} {translate(self.hint, locale, **params)}"
        return text


@dataclass(frozen=True)
class Text:
    """A text in French and in English."""

    fr: str
    en: str

    def get(self, lang: str | None) -> str:
        """The text in `lang` ('en' or 'fr...'), falling back to the other language."""
        if lang and lang.startswith("en"):
            return self.en or self.fr
        return self.fr or self.en

    def to_dict(self) -> dict[str, str]:
        return {"fr": self.fr, "en": self.en}


@dataclass(frozen=True)
class PackFile:
    path: str
    sha256: str
    size: int
    media_type: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "media_type": self.media_type}


@dataclass(frozen=True)
class ResourceSpec:
    """A resource as the manifest describes it; `entry` is the file a viewer opens."""

    id: str
    kind: str
    entry: str
    title: Text
    description: Text
    language: str
    subjects: tuple[str, ...]
    cycles: tuple[str, ...]
    duration: int | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "entry": self.entry,
            "title": self.title.to_dict(), "description": self.description.to_dict(),
            "language": self.language, "subjects": list(self.subjects),
            "cycles": list(self.cycles)}
        if self.duration is not None:
            data["duration"] = self.duration
        if self.text:
            data["text"] = self.text
        return data


@dataclass(frozen=True)
class Dependency:
    """Another pack this one needs (its links point into it), at `min_version` or later."""

    id: str
    min_version: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, **({"min_version": self.min_version} if self.min_version else {})}


@dataclass(frozen=True)
class Manifest:
    schema: int
    id: str
    version: str
    title: Text
    description: Text
    language: str
    subjects: tuple[str, ...]
    cycles: tuple[str, ...]
    licence: str
    publisher: str
    files: tuple[PackFile, ...]
    resources: tuple[ResourceSpec, ...]
    requires: tuple[Dependency, ...] = ()
    _by_path: dict[str, PackFile] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_path.update({f.path: f for f in self.files})

    def file(self, path: str) -> PackFile | None:
        return self._by_path.get(path)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "id": self.id, "version": self.version,
            "title": self.title.to_dict(), "description": self.description.to_dict(),
            "language": self.language, "subjects": list(self.subjects),
            "cycles": list(self.cycles), "licence": self.licence, "publisher": self.publisher,
            "files": [f.to_dict() for f in self.files],
            "resources": [r.to_dict() for r in self.resources],
            **({"requires": [d.to_dict() for d in self.requires]} if self.requires else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


# -- reading ------------------------------------------------------------------------------

_MISSING = object()


class _Checker:
    """Reads fields of one manifest, raising ManifestError that names pack and field."""

    def __init__(self, pack: str) -> None:
        self.pack = pack

    def fail(self, field: str, problem: str, value: object = _MISSING,
             hint: str | None = None, **params: Any) -> NoReturn:
        if value is _MISSING:
            raise ManifestError(N_("Pack %(pack)s: manifest field %(field)s %(problem)s."),
                                hint=hint, pack=self.pack, field=field, problem=problem,
                                **params)
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise ManifestError(
            N_("Pack %(pack)s: manifest field %(field)s %(problem)s (found: %(value)s)."),
            hint=hint, pack=self.pack, field=field, problem=problem, value=shown, **params)

    def get(self, obj: Mapping[str, Any], key: str, field: str, *, required: bool = True
            ) -> Any:
        if key not in obj or obj[key] is None:
            if required:
                self.fail(field, N_("is missing"))
            return _MISSING
        return obj[key]

    def text(self, obj: Mapping[str, Any], key: str, field: str, *, max_len: int,
             required: bool = True, allow_empty: bool = False) -> str:
        value = self.get(obj, key, field, required=required)
        if value is _MISSING:
            return ""
        if not isinstance(value, str):
            self.fail(field, N_("must be text"), value)
        value = value.strip()
        if not value and not allow_empty:
            self.fail(field, N_("must not be empty"))
        if len(value) > max_len:
            self.fail(field, N_("is too long (at most %(limit)s characters)"), limit=max_len)
        return value

    def pattern(self, obj: Mapping[str, Any], key: str, field: str, regex: re.Pattern[str],
                problem: str, *, max_len: int = 100, hint: str | None = None,
                required: bool = True) -> str:
        value = self.get(obj, key, field, required=required)
        if value is _MISSING:
            return ""
        if not isinstance(value, str) or len(value) > max_len or not regex.match(value):
            self.fail(field, problem, value, hint=hint)
        return value

    def bilingual(self, obj: Mapping[str, Any], key: str, field: str, *, max_len: int,
                  required: bool = True, allow_empty: bool = False) -> Text:
        value = self.get(obj, key, field, required=required)
        if value is _MISSING:
            return Text("", "")
        if not isinstance(value, dict):
            self.fail(field, N_("must be an object with \"fr\" and \"en\" texts"), value)
        return Text(
            fr=self.text(value, "fr", f"{field}.fr", max_len=max_len, allow_empty=allow_empty),
            en=self.text(value, "en", f"{field}.en", max_len=max_len, allow_empty=allow_empty))

    def codes(self, obj: Mapping[str, Any], key: str, field: str, known: Mapping[str, str],
              *, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.get(obj, key, field, required=default is None)
        if value is _MISSING:
            return default or ()
        if not isinstance(value, list):
            self.fail(field, N_("must be a list"), value)
        out: list[str] = []
        for i, code in enumerate(value):
            if not isinstance(code, str) or code not in known:
                self.fail(f"{field}[{i}]", N_("is not a known code"), code,
                          hint=N_("Known codes: %(allowed)s."), allowed=", ".join(known))
            if code not in out:
                out.append(code)
        return tuple(out)

    def integer(self, obj: Mapping[str, Any], key: str, field: str, *, required: bool = True
                ) -> int | None:
        value = self.get(obj, key, field, required=required)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, N_("must be a whole number"), value)
        if value < 0:
            self.fail(field, N_("must be zero or more"), value)
        return value

    def items(self, obj: Mapping[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
        value = self.get(obj, key, key)
        if not isinstance(value, list):
            self.fail(key, N_("must be a list"), value)
        if not value:
            self.fail(key, N_("must not be empty"))
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"{key}[{i}]", N_("must be an object"), item)
            yield i, item


def parse_manifest(data: object, source: str) -> Manifest:
    """Check a decoded manifest and build the Manifest; `source` names the pack in errors
    until its id is known (the folder name)."""
    check = _Checker(source)
    if not isinstance(data, dict):
        check.fail("(manifest)", N_("must be a JSON object"))
    schema = data.get("schema")
    if type(schema) is not int or schema != SCHEMA:
        check.fail("schema", N_("must be 1: this hub reads manifests of schema 1"),
                   schema if schema is not None else "null",
                   hint=N_("Update the hub to install this pack."))
    pack_id = check.pattern(data, "id", "id", _SLUG, N_(
        "must be a short name of lowercase letters, digits and dashes"), max_len=64)
    check.pack = pack_id
    version = check.pattern(data, "version", "version", _VERSION, N_(
        "must be a version such as 1.0.0 (letters, digits, dots, dashes)"), max_len=40)
    title = check.bilingual(data, "title", "title", max_len=MAX_TITLE)
    description = check.bilingual(data, "description", "description",
                                  max_len=MAX_DESCRIPTION, allow_empty=True)
    language = check.pattern(data, "language", "language", _LANGUAGE, N_(
        "must be a language code such as fr or en"), max_len=8)
    subjects = check.codes(data, "subjects", "subjects", SUBJECTS)
    cycles = check.codes(data, "cycles", "cycles", CYCLES)
    licence = check.pattern(data, "licence", "licence", _LICENCE, N_(
        "must be a Creative Commons licence identifier"), max_len=40,
        hint=N_("For example CC-BY-4.0, CC-BY-SA-4.0, CC-BY-NC-SA-4.0 or CC0-1.0."))
    publisher = check.text(data, "publisher", "publisher", max_len=MAX_PUBLISHER)
    files = _parse_files(check, data)
    by_path = {f.path: f for f in files}
    resources = _parse_resources(check, data, by_path, language, subjects, cycles)
    requires = _parse_requires(check, data)
    return Manifest(schema=SCHEMA, id=pack_id, version=version, title=title,
                    description=description, language=language, subjects=subjects,
                    cycles=cycles, licence=licence, publisher=publisher, files=files,
                    resources=resources, requires=requires)


def _parse_requires(check: _Checker, data: Mapping[str, Any]) -> tuple[Dependency, ...]:
    value = data.get("requires")
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail("requires", N_("must be a list"), value)
    if len(value) > MAX_REQUIRES:
        check.fail("requires", N_("has too many entries (at most %(limit)s)"),
                   limit=MAX_REQUIRES)
    out: list[Dependency] = []
    for i, item in enumerate(value):
        where = f"requires[{i}]"
        if not isinstance(item, dict):
            check.fail(where, N_("must be an object"), item)
        dep_id = check.pattern(item, "id", f"{where}.id", _SLUG, N_(
            "must be a short name of lowercase letters, digits and dashes"), max_len=64)
        if dep_id == check.pack:
            check.fail(f"{where}.id", N_("names the pack itself"), dep_id)
        min_version = check.pattern(item, "min_version", f"{where}.min_version", _VERSION, N_(
            "must be a version such as 1.0.0 (letters, digits, dots, dashes)"), max_len=40,
            required=False)
        out.append(Dependency(dep_id, min_version))
    return tuple(out)


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for versions: numbers compare as numbers ("1.10" after "1.9"), other parts
    as text after numbers, so "2.0" > "2.0-rc1" is NOT assumed: publishers use numbers."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts)


def is_newer(candidate: str, than: str | None) -> bool:
    """Whether version `candidate` comes after `than` (None: nothing installed)."""
    return than is None or version_key(candidate) > version_key(than)


def licence_name(code: str) -> str:
    """The licence's name (an English message id to translate), or the code itself."""
    return LICENCES.get(code, code)


def _parse_files(check: _Checker, data: Mapping[str, Any]) -> tuple[PackFile, ...]:
    files: list[PackFile] = []
    seen: dict[str, str] = {}
    for i, item in check.items(data, "files"):
        where = f"files[{i}]"
        path = check.get(item, "path", f"{where}.path")
        problem = path_problem(path)
        if problem:
            check.fail(f"{where}.path", problem, path)
        if path in PACK_METADATA_FILES:
            check.fail(f"{where}.path", N_("names a file the pack format reserves"), path)
        folded = path.casefold()
        if folded in seen:
            check.fail(f"{where}.path", N_("is listed twice (or differs only by upper and "
                                           "lower case, which USB sticks cannot hold)"), path)
        seen[folded] = path
        sha = check.pattern(item, "sha256", f"{where}.sha256", _SHA256, N_(
            "must be 64 lowercase hexadecimal characters"), max_len=64)
        size = check.integer(item, "size", f"{where}.size")
        media_type = check.pattern(item, "media_type", f"{where}.media_type", _MEDIA_TYPE, N_(
            "must be a media type such as text/html or video/mp4"), max_len=100)
        files.append(PackFile(path=path, sha256=sha, size=size or 0, media_type=media_type))
    folders = {p.rsplit("/", i)[0] for p in seen for i in range(1, p.count("/") + 1)}
    for i, f in enumerate(files):
        if f.path.casefold() in folders:
            check.fail(f"files[{i}].path", N_("is both a file and a folder"), f.path)
    return tuple(files)


def _parse_resources(check: _Checker, data: Mapping[str, Any], files: Mapping[str, PackFile],
                     language: str, subjects: tuple[str, ...], cycles: tuple[str, ...]
                     ) -> tuple[ResourceSpec, ...]:
    resources: list[ResourceSpec] = []
    seen: set[str] = set()
    for i, item in check.items(data, "resources"):
        where = f"resources[{i}]"
        rid = check.pattern(item, "id", f"{where}.id", _SLUG, N_(
            "must be a short name of lowercase letters, digits and dashes"), max_len=100)
        if rid in seen:
            check.fail(f"{where}.id", N_("is used by two resources"), rid)
        seen.add(rid)
        kind = check.get(item, "kind", f"{where}.kind")
        if kind not in KINDS:
            check.fail(f"{where}.kind", N_("is not a known kind"), kind,
                       hint=N_("Known codes: %(allowed)s."), allowed=", ".join(KINDS))
        entry = check.get(item, "entry", f"{where}.entry")
        if not isinstance(entry, str) or entry not in files:
            check.fail(f"{where}.entry", N_("must be the path of a file listed in files"), entry)
        base_type = files[entry].media_type.split(";")[0]
        if not _KIND_MEDIA[kind](base_type):
            check.fail(f"{where}.entry", N_("has a media type that does not suit this kind of "
                                            "resource"), f"{kind}: {base_type}")
        resources.append(ResourceSpec(
            id=rid, kind=kind, entry=entry,
            title=check.bilingual(item, "title", f"{where}.title", max_len=MAX_TITLE),
            description=check.bilingual(item, "description", f"{where}.description",
                                        max_len=MAX_DESCRIPTION, required=False,
                                        allow_empty=True),
            language=check.pattern(item, "language", f"{where}.language", _LANGUAGE, N_(
                "must be a language code such as fr or en"), max_len=8,
                required=False) or language,
            subjects=check.codes(item, "subjects", f"{where}.subjects", SUBJECTS,
                                 default=subjects),
            cycles=check.codes(item, "cycles", f"{where}.cycles", CYCLES, default=cycles),
            duration=check.integer(item, "duration", f"{where}.duration", required=False),
            text=check.text(item, "text", f"{where}.text", max_len=MAX_TEXT, required=False,
                            allow_empty=True),
        ))
    return tuple(resources)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> NoReturn:
    raise ValueError(name)


def read_manifest(folder: Path) -> Manifest:
    """Read and check `folder/manifest.json`.

    Refuses a manifest that is missing, a link, too large, not UTF-8 or not valid JSON (a
    truncated copy), with a message saying so and what to do.
    """
    return read_manifest_bytes(folder)[1]


def read_manifest_bytes(folder: Path) -> tuple[bytes, Manifest]:
    """The exact bytes of `folder/manifest.json`, read once, and the manifest they hold:
    an install checks the signature of the very bytes it parsed."""
    label = folder.name or str(folder)
    if not folder.is_dir():
        raise ManifestError(N_("%(folder)s is not a folder."), folder=str(folder))
    path = folder / MANIFEST_NAME
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise ManifestError(N_("Folder %(folder)s has no manifest.json: it is not a content "
                               "pack."), folder=str(folder)) from None
    if not path.is_file() or path.is_symlink():
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json must be a regular file."),
                            pack=label)
    if st.st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json is too large (more than "
                               "%(limit)s MB)."), pack=label,
                            limit=MAX_MANIFEST_BYTES // (1024 * 1024))
    with open(path, "rb") as fh:
        raw = fh.read(st.st_size + 1)  # a manifest still growing is refused below
    return raw, parse_manifest_bytes(raw, label)


def parse_manifest_bytes(raw: bytes, label: str) -> Manifest:
    """Check the bytes of a manifest.json; `label` names the pack until its id is known.
    Installs parse the exact bytes whose signature they checked, read once."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json is too large (more than "
                               "%(limit)s MB)."), pack=label,
                            limit=MAX_MANIFEST_BYTES // (1024 * 1024))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json is not UTF-8 text (bad "
                               "byte at position %(position)s)."),
                            hint=N_("The copy may be damaged: copy the pack again."),
                            pack=label, position=exc.start) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json is not valid JSON (line "
                               "%(line)s, column %(column)s)."),
                            hint=N_("The copy may be truncated or damaged: copy the pack "
                                    "again."),
                            pack=label, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json has the key %(key)s twice "
                               "in one object."), pack=label, key=str(exc)) from None
    except ValueError as exc:
        raise ManifestError(N_("Pack folder %(pack)s: manifest.json has the value %(key)s, "
                               "which is not JSON."), pack=label, key=str(exc)) from None
    return parse_manifest(data, label)


# -- writing ------------------------------------------------------------------------------

_MEDIA_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".xhtml": "application/xhtml+xml",
    ".css": "text/css", ".js": "text/javascript", ".json": "application/json",
    ".txt": "text/plain", ".csv": "text/csv", ".md": "text/markdown",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".pdf": "application/pdf", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
    ".ogg": "audio/ogg", ".opus": "audio/ogg", ".oga": "audio/ogg", ".wav": "audio/wav",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
    ".woff2": "font/woff2", ".woff": "font/woff", ".epub": "application/epub+zip",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".zip": "application/zip", ".zim": ZIM_MEDIA_TYPE,
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".flac": "audio/flac", ".aac": "audio/aac", ".ogv": "video/ogg", ".mov": "video/quicktime",
    ".avif": "image/avif",
}


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """SHA-256 of a file, read in chunks so memory stays flat whatever its size."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def guess_media_type(path: Path) -> str:
    """Media type from the extension; text files that are UTF-8 say so (browsers guess
    windows-1252 otherwise)."""
    media_type = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    if media_type.startswith("text/") or media_type in ("image/svg+xml", "application/json"):
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return media_type
        if media_type.startswith("text/"):
            return f"{media_type}; charset=utf-8"
    return media_type


def describe_files(folder: Path) -> list[dict[str, Any]]:
    """Every file under `folder` (but the manifest), hashed, in path order."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            full = Path(root) / name
            rel = full.relative_to(folder).as_posix()
            if rel in PACK_METADATA_FILES:
                continue
            if full.is_symlink() or not full.is_file():
                raise ManifestError(N_("Pack folder %(pack)s: %(file)s is not a regular file."),
                                    pack=folder.name, file=rel)
            out.append({"path": rel, "sha256": sha256_of(full), "size": full.stat().st_size,
                        "media_type": guess_media_type(full)})
    return out


def write_manifest(folder: Path, meta: Mapping[str, Any],
                   resources: Sequence[Mapping[str, Any]]) -> Manifest:
    """Hash every file of `folder` and write its manifest.json (checked, then replaced
    atomically). `meta` holds the pack fields (id, version, title...), `resources` the
    resource entries. Returns the written manifest."""
    data = {"schema": SCHEMA, **meta, "files": describe_files(folder),
            "resources": [dict(r) for r in resources]}
    manifest = parse_manifest(data, folder.name)
    target = folder / MANIFEST_NAME
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return manifest


__all__ = [
    "CYCLES",
    "KINDS",
    "KIND_LABELS",
    "LICENCES",
    "MANIFEST_NAME",
    "PACK_METADATA_FILES",
    "SCHEMA",
    "SIGNATURE_NAME",
    "SUBJECTS",
    "ZIM_MEDIA_TYPE",
    "Dependency",
    "Manifest",
    "ManifestError",
    "PackFile",
    "ResourceSpec",
    "Text",
    "describe_files",
    "guess_media_type",
    "is_newer",
    "licence_name",
    "parse_manifest",
    "parse_manifest_bytes",
    "read_manifest",
    "read_manifest_bytes",
    "sha256_of",
    "version_key",
    "write_manifest",
]
