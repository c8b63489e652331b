"""Safe paths inside a pack: what a manifest may name, and how a request maps to a file.

A pack comes from outside (a USB stick, a mirror), and a file URL comes from a browser:
neither may reach a file outside the pack's folder. Paths are POSIX, relative, without
`.`/`..` segments, backslashes or control characters, and a resolved path (symlinks
followed) must stay under the pack's root.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from ardoise.i18n import N_

PACKS_DIR = "packs"
STAGING_DIR = "staging"
CURRENT_LINK = "current"
MAX_PATH_LENGTH = 500
MAX_SEGMENT_LENGTH = 255
_FORBIDDEN_CHARS = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')


def path_problem(path: object) -> str | None:
    """Why `path` is not an acceptable pack path (an English message id), or None if it is.

    Accepted: "lecons/cycle-eau.html". Refused: absolute paths, `..` and `.` segments,
    empty segments, backslashes, drive letters, characters Windows/FAT cannot store
    (a pack must survive a trip on a USB stick), and paths not in NFC form.
    """
    if not isinstance(path, str) or not path:
        return N_("must be a non-empty path")
    if len(path) > MAX_PATH_LENGTH:
        return N_("is too long")
    if path.startswith("/"):
        return N_("must be relative, not absolute")
    if _FORBIDDEN_CHARS.search(path):
        return N_("contains a backslash, a control character or one of : * ? \" < > |")
    if unicodedata.normalize("NFC", path) != path:
        return N_("must be in Unicode NFC form")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return N_("must not contain empty, '.' or '..' segments")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_LENGTH:
            return N_("has a name that is too long")
        if segment.endswith((" ", ".")):
            return N_("has a name ending with a space or a dot")
    return None


def packs_root(data_dir: Path) -> Path:
    """data_dir/packs: installed packs, one folder per pack, one sub-folder per version."""
    return Path(data_dir) / PACKS_DIR


def pack_root(data_dir: Path, pack_id: str, version: str) -> Path:
    """data_dir/packs/<id>/<version>: one installed version, never changed once there."""
    return packs_root(data_dir) / pack_id / version


def staging_root(data_dir: Path) -> Path:
    """data_dir/staging: where packs are copied and verified before they are switched in.
    Same file system as packs/, so the switch is a rename."""
    return Path(data_dir) / STAGING_DIR


def is_safe_relative(path: object) -> bool:
    return path_problem(path) is None


def is_within(root: Path, candidate: Path) -> bool:
    """True when `candidate`, symlinks resolved, is `root` or below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(candidate)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def resolve_inside(root: Path, relpath: str) -> Path | None:
    """The file `relpath` names under `root`, or None when the path is unsafe, escapes
    `root` through a symlink, or is not a regular file. Used to serve pack files."""
    if not is_safe_relative(relpath):
        return None
    candidate = root / relpath
    if not is_within(root, candidate):
        return None
    real = Path(os.path.realpath(candidate))
    return real if real.is_file() else None


__all__ = [
    "CURRENT_LINK",
    "is_safe_relative",
    "is_within",
    "pack_root",
    "packs_root",
    "path_problem",
    "resolve_inside",
    "staging_root",
]
