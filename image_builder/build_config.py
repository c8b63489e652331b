"""`build.toml`: what `ardoise image build` makes. Every problem is listed at once."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from image_builder.errors import ConfigInvalid
from image_builder.firstboot.config import publisher_key_bytes
from image_builder.messages import N_
from image_builder.schema import Reader, load_toml

COMPRESSIONS = ("xz", "zstd", "none")
SUITES = ("bookworm",)


@dataclass(frozen=True)
class BuildConfig:
    name: str = "ardoise-hub"
    version: str = "0.1.0"
    suite: str = "bookworm"
    mirror: str = ""  # empty: the Debian mirror the build machine's apt already uses
    boot_mib: int = 256
    root_extra_mib: int = 256  # free space left in the root filesystem
    data_mib: int = 128  # at build time; first boot grows it to fill the card
    # zstd: a cached rebuild in minutes and under 400 MB; xz: some 15 % smaller, far slower
    compress: str = "zstd"
    bmap: bool = True
    extra_packages: tuple[str, ...] = ()
    base_image: Path | None = None
    wheel: Path | None = None  # empty: built from the project's source tree
    constraints: Path | None = None
    packs: tuple[str, ...] = ()  # folders or rsync URLs baked into the data partition
    # Publisher keys ("name:BASE64") the baked packs are verified with; the image trusts
    # them too (/usr/share/ardoise/trusted-publishers), beside those of ardoise.toml.
    trusted_keys: tuple[str, ...] = ()
    settings_template: Path | None = None  # ardoise.toml put on the boot partition
    imager_url: str = ""  # where the image will be published (for the Imager os_list)
    imager_description: str = "Ardoise classroom hub (Raspberry Pi 3B+/4/400, Zero 2 W)"
    source: Path | None = field(default=None, compare=False)


def _path(r: Reader, key: str, base: Path, must_exist: bool = True) -> Path | None:
    value = r.text(key)
    if value is None:
        return None
    path = (base / value).resolve()
    if must_exist and not path.exists():
        r.add(key, N_("The file does not exist: %(path)s."), path=str(path))
        return None
    return path


def parse_build_config(data: dict[str, object], base: Path) -> BuildConfig:
    """Validate a parsed build.toml; relative paths are relative to the file's folder."""
    r = Reader(data)
    for section in ("image", "hub", "packs", "imager"):
        r.section(section)
    d = BuildConfig()
    name = r.text("image.name", d.name, pattern=r"[a-z0-9][a-z0-9._-]{0,63}",
                  pattern_help=N_("Use lowercase letters, digits, dots and dashes (it "
                                  "names the output files), not %(value)s."))
    version = r.text("image.version", d.version, pattern=r"[A-Za-z0-9][A-Za-z0-9.+~-]{0,39}",
                     pattern_help=N_("Use letters, digits, dots and dashes, not %(value)s."))
    suite = r.text("image.suite", d.suite, choices=SUITES)
    mirror = r.text("image.mirror", "", pattern=r"(https?|file)://\S+",
                    pattern_help=N_("Must be a URL of a Debian mirror, not %(value)s."))
    boot = r.integer("image.boot_mib", d.boot_mib, minimum=64, maximum=2048)
    root_extra = r.integer("image.root_extra_mib", d.root_extra_mib, minimum=0,
                           maximum=65536)
    data_mib = r.integer("image.data_mib", d.data_mib, minimum=32, maximum=65536)
    compress = r.text("image.compress", d.compress, choices=COMPRESSIONS)
    bmap = r.boolean("image.bmap", d.bmap)
    extra = r.text_list("image.extra_packages", lambda s: None if _is_package(s) else N_(
        "Not a Debian package name (lowercase letters, digits, + - .)."))
    base_image = _path(r, "image.base", base)
    wheel = _path(r, "hub.wheel", base)
    constraints = _path(r, "hub.constraints", base)
    template = _path(r, "hub.settings_template", base)
    packs = r.text_list("packs.sources", lambda s: None if s.startswith("rsync://") or (
        base / s).is_dir() else N_("Not a folder nor an rsync:// address."))
    keys = r.text_list("packs.trusted_keys", lambda s: None if _publisher_key(s, base) else N_(
        "Not a publisher key: give a .pub file (from `ardoise pack keygen`) or the key itself "
        "(Ed25519, base64)."))
    if packs and not keys:
        r.add("packs.trusted_keys", N_("Packs are verified before they are baked in: list the "
                                       "key of their publisher (a .pub file) here."))
    url = r.text("imager.url", "", pattern=r"https?://\S+",
                 pattern_help=N_("Must be the http(s) address where the image will be "
                                 "published, not %(value)s."))
    desc = r.text("imager.description", d.imager_description, max_len=200)
    r.reject_unknown(["", "image", "hub", "packs", "imager"])
    if r.problems:
        raise ConfigInvalid("build.toml", r.problems)
    return BuildConfig(
        name=name or d.name, version=version or d.version, suite=suite or d.suite,
        mirror=mirror or "", boot_mib=boot or d.boot_mib,
        root_extra_mib=d.root_extra_mib if root_extra is None else root_extra,
        data_mib=data_mib or d.data_mib, compress=compress or d.compress, bmap=bmap,
        extra_packages=tuple(extra), base_image=base_image, wheel=wheel,
        constraints=constraints,
        packs=tuple(p if p.startswith("rsync://") else str((base / p).resolve())
                    for p in packs),
        trusted_keys=tuple(k for k in (_publisher_key(v, base) for v in keys) if k),
        settings_template=template, imager_url=url or "",
        imager_description=desc or d.imager_description)


def _publisher_key(value: str, base: Path) -> str | None:
    """`name:BASE64` for a key given inline or as a .pub file, None when it is neither."""
    path = base / value
    if value.endswith(".pub") and path.is_file():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        key = publisher_key_bytes(text)
        name = path.stem
    else:
        key = publisher_key_bytes(value)
        name = value.rsplit(":", 1)[0] if ":" in value else "publisher"
    return f"{name}:{base64.b64encode(key).decode()}" if key else None


def _is_package(name: str) -> bool:
    import re

    return re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name) is not None


def load_build_config(path: Path) -> BuildConfig:
    data, problems = load_toml(path)
    if problems:
        raise ConfigInvalid(path.name, problems)
    config = parse_build_config(data, path.parent)
    return BuildConfig(**{**config.__dict__, "source": path})
