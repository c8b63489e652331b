"""`ardoise pack ...`: build, sign, publish, serve, pull, install, verify, export, roll back.

Thin: each command calls content_packs and prints the result in the user's language.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.errors import ArdoiseError, Invalid
from ardoise.i18n import N_, cli_locale, translate
from content_packs.build import build_manifest
from content_packs.catalog import active_pack, list_packs
from content_packs.install import (
    check_installable,
    install_pack,
    install_work,
    recover,
    reindex,
    remove_pack,
    rollback,
)
from content_packs.manifest import read_manifest
from content_packs.publish import export_pack, publish_pack
from content_packs.pull import PullProgress, newer_offers, pull_pack, scan
from content_packs.rsync import TransferOptions
from content_packs.serve import serve as serve_tree
from content_packs.signing import (
    MANIFEST_CONTEXT,
    Trust,
    decode_public_key,
    generate_key,
    load_private_key,
    sign_file,
    trust_from_settings,
)
from content_packs.sources import Catalogue, Offer, find_usb_sources, open_source
from content_packs.status import StatusRecorder
from content_packs.verify import Report, verify_folder, verify_installed


def _t(message: str, **params: object) -> str:
    return translate(message, cli_locale(), **params)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _trust(obj: Context, extra_keys: tuple[Path, ...] = ()) -> Trust:
    trust = trust_from_settings(obj.settings)
    keys = dict(trust.keys)
    for path in extra_keys:
        try:
            raw = decode_public_key(Path(path).read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            raw = None
        if raw is None:
            raise Invalid(N_("%(path)s is not an Ed25519 public key (one line of base64)."),
                          path=str(path))
        keys.update(Trust.of([raw]).keys)
    return Trust(keys, trust.allow_unsigned)


@click.group("pack", cls=ArdoiseGroup)
def pack_group() -> None:
    """Content packs: build, sign, publish, pull, install, verify, roll back."""


# -- on a hub -----------------------------------------------------------------------------

@pack_group.command("install")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def install(obj: Context, folder: Path) -> None:
    """Verify the pack in FOLDER (signature and every file) and make it the active version
    of that pack."""
    trust = _trust(obj)
    with obj.session() as session:
        recover(session, obj.data_dir)
        manifest = check_installable(session, folder, trust)
    with obj.session() as session, click.progressbar(
            length=max(install_work(manifest), 1),
            label=_t(N_("Copying and verifying %(pack)s %(version)s"), pack=manifest.id,
                     version=manifest.version)) as bar:
        pack = install_pack(session, obj.data_dir, folder, progress=bar.update, trust=trust)
    click.echo(_t(N_("Installed pack %(pack)s version %(version)s: %(count)s resources."),
                  pack=pack.pack_id, version=pack.version, count=len(manifest.resources)))


class _PullDisplay:
    """A progress bar per phase of a pull, with the rate and the time left."""

    LABELS = {"download": N_("Downloading %(pack)s %(version)s"),
              "verify": N_("Verifying %(pack)s %(version)s")}

    def __init__(self) -> None:
        self.bar: Any = None
        self.phase = ""
        self.shown = 0
        self.extra = ""

    def __call__(self, p: PullProgress) -> None:
        if p.phase != self.phase:
            self.close()
            self.phase = p.phase
            if p.phase in self.LABELS and p.total:
                self.bar = click.progressbar(
                    length=p.total, show_eta=False,
                    label=_t(self.LABELS[p.phase], pack=p.pack_id, version=p.version),
                    item_show_func=lambda _item: self.extra)
                self.bar.__enter__()
                self.shown = 0
        if self.bar is not None:
            parts = []
            if p.rate > 0:
                parts.append(f"{p.rate / 1000:.1f} kB/s")
            if p.eta is not None and p.phase == "download":
                minutes, seconds = divmod(int(p.eta), 60)
                parts.append(_t(N_("%(minutes)s min %(seconds)s s left"), minutes=minutes,
                                seconds=seconds))
            self.extra = ", ".join(parts)
            step = max(0, p.done - self.shown)
            self.shown += step
            self.bar.update(step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _print_offers(catalogue: Catalogue, installed: dict[str, list[str]]) -> None:
    lang = cli_locale()
    if not catalogue.offers:
        click.echo(_t(N_("No pack found there.")))
    for offer in sorted(catalogue.offers, key=lambda o: (o.pack_id, o.version)):
        have = installed.get(offer.pack_id, [])
        mark = "=" if offer.version in have else ("+" if not have else "~")
        click.echo(f"{mark} {offer.pack_id} {offer.version}  {offer.title.get(lang)}  "
                   f"[{_mb(offer.total_bytes)}]")
    for problem in catalogue.problems:
        click.echo(_t(N_("Unreadable: %(reason)s"), reason=problem.render(lang)), err=True)


def _pull_many(obj: Context, source: Any, catalogue: Catalogue, offers: list[Offer],
               options: TransferOptions, trust: Trust) -> None:
    failures: list[str] = []
    display = _PullDisplay()
    for offer in offers:
        recorder = StatusRecorder(obj.session, also=display)
        try:
            with obj.session() as session:
                result = pull_pack(session, obj.data_dir, source, offer.pack_id,
                                   offer.version, trust=trust, options=options,
                                   progress=recorder, catalogue=catalogue)
        except ArdoiseError as exc:
            display.close()
            message = exc.render(cli_locale())
            recorder.finish(False, message)
            failures.append(message)
            continue
        display.close()
        recorder.finish(True)
        click.echo(_t(N_("Installed %(packs)s: %(received)s received, %(reused)s reused from "
                         "the installed version or an earlier attempt."),
                      packs=", ".join(result.installed), received=_mb(
                          result.stats.bytes_received),
                      reused=_mb(result.stats.matched_bytes + result.resumed_bytes)))
    if failures:
        raise click.ClickException("\n".join(failures))


def _installed(obj: Context) -> dict[str, list[str]]:
    with obj.session() as session:
        out: dict[str, list[str]] = {}
        for p in list_packs(session):
            out.setdefault(p.pack_id, []).append(p.version)
    return out


@pack_group.command("pull")
@click.argument("source")
@click.argument("pack_ids", nargs=-1)
@click.option("--version", help="Pull this version rather than the newest one.")
@click.option("--bwlimit", type=click.IntRange(min=0), metavar="KBPS",
              help="Bandwidth cap in kbit/s for this pull (default: setting "
                   "pack_bandwidth_kbps); 0: none.")
@click.option("--list", "list_only", is_flag=True, help="Only list what SOURCE offers.")
@pass_ctx
def pull(obj: Context, source: str, pack_ids: tuple[str, ...], version: str | None,
         bwlimit: int | None, list_only: bool) -> None:
    """Download packs from SOURCE (rsync://server[:port]/module, a folder or a USB stick),
    verify them and install them. Without PACK_IDS: every pack that is new or newer than
    the installed one. A cut download resumes where it stopped at the next pull."""
    trust = _trust(obj)
    options = TransferOptions.from_settings(obj.settings, bwlimit)
    src = open_source(source)
    with obj.session() as session:
        recover(session, obj.data_dir)
    catalogue = scan(src, obj.data_dir, trust, options)
    if list_only:
        _print_offers(catalogue, _installed(obj))
        return
    if version is not None and len(pack_ids) != 1:
        raise Invalid(N_("--version needs exactly one pack id."))
    if pack_ids:
        offers = []
        for pid in pack_ids:
            offer = catalogue.find(pid, version)
            if offer is None:
                raise Invalid(N_("%(source)s offers no pack %(pack)s%(version)s."),
                              source=src.label, pack=pid,
                              version=f" {version}" if version else "")
            offers.append(offer)
    else:
        with obj.session() as session:
            offers = newer_offers(session, catalogue)
        if not offers:
            click.echo(_t(N_("Every pack from %(source)s is up to date."), source=src.label))
            return
    _pull_many(obj, src, catalogue, offers, options, trust)


@pack_group.command("usb")
@click.option("--install", "do_install", is_flag=True,
              help="Install every pack found that is new or newer than the installed one.")
@pass_ctx
def usb(obj: Context, do_install: bool) -> None:
    """Packs on the USB sticks mounted under the setting pack_usb_mount_root."""
    trust = _trust(obj)
    options = TransferOptions.from_settings(obj.settings)
    sticks = find_usb_sources(Path(obj.settings.pack_usb_mount_root))
    if not sticks:
        click.echo(_t(N_("No USB stick with packs under %(folder)s."),
                      folder=obj.settings.pack_usb_mount_root))
        return
    for stick in sticks:
        click.echo(f"{stick.label}:")
        catalogue = scan(stick, obj.data_dir, trust, options)
        if not do_install:
            _print_offers(catalogue, _installed(obj))
            continue
        with obj.session() as session:
            offers = newer_offers(session, catalogue)
        _pull_many(obj, stick, catalogue, offers, options, trust)


@pack_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def list_command(obj: Context, as_json: bool) -> None:
    """Installed packs and their versions (* marks the active one)."""
    with obj.session() as session:
        packs = list_packs(session)
    lang = cli_locale()
    if as_json:
        click.echo(json.dumps([{
            "id": p.pack_id, "version": p.version, "active": p.active,
            "title": {"fr": p.title_fr, "en": p.title_en}, "language": p.language,
            "licence": p.licence, "publisher": p.publisher, "files": p.file_count,
            "bytes": p.total_bytes, "installed_at": p.installed_at.isoformat()}
            for p in packs], ensure_ascii=False, indent=2))
        return
    if not packs:
        click.echo(_t(N_("No pack is installed.")))
        return
    for p in packs:
        mark = "*" if p.active else " "
        size = p.total_bytes / (1024 * 1024)
        click.echo(f"{mark} {p.pack_id} {p.version}  {p.title(lang)}  "
                   f"[{p.language}, {p.licence}, {size:.1f} MB]")


@pack_group.command("rollback")
@click.argument("pack_id")
@click.option("--to", "version", help="The installed version to go back to (default: the "
              "one kept from before the last update).")
@pass_ctx
def rollback_command(obj: Context, pack_id: str, version: str | None) -> None:
    """Make the previous installed version of PACK_ID the active one again."""
    with obj.session() as session:
        pack = rollback(session, obj.data_dir, pack_id, version)
    click.echo(_t(N_("Pack %(pack)s is back to version %(version)s."), pack=pack.pack_id,
                  version=pack.version))


@pack_group.command("remove")
@click.argument("pack_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def remove(obj: Context, pack_id: str, yes: bool) -> None:
    """Uninstall every version of PACK_ID."""
    if not yes:
        click.confirm(_t(N_("Remove pack %(pack)s and its files?"), pack=pack_id),
                      abort=True)
    with obj.session() as session:
        versions = remove_pack(session, obj.data_dir, pack_id)
    click.echo(_t(N_("Removed pack %(pack)s (versions: %(versions)s)."), pack=pack_id,
                  versions=", ".join(versions)))


@pack_group.command("export")
@click.argument("pack_id")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def export(obj: Context, pack_id: str, folder: Path) -> None:
    """Write the installed pack PACK_ID to FOLDER (a USB stick) for another school's hub,
    signature included; the copy is verified."""
    with obj.session() as session:
        done = export_pack(session, obj.data_dir, pack_id, folder)
    click.echo(_t(N_("Pack %(pack)s version %(version)s written to %(folder)s."),
                  pack=done.pack_id, version=done.version, folder=str(done.path)))


@pack_group.command("reindex")
@pass_ctx
def reindex_command(obj: Context) -> None:
    """Rebuild the search index from the installed packs."""
    with obj.session() as session:
        count = reindex(session, obj.data_dir)
    click.echo(_t(N_("Search index rebuilt: %(count)s resources."), count=count))


# -- checking -----------------------------------------------------------------------------

def _print_report(report: Report, label: str) -> None:
    lang = cli_locale()
    if report.ok and report.manifest is not None:
        m = report.manifest
        signed = (_t(N_("signed by key %(key)s"), key=report.signer) if report.signer
                  else _t(N_("signature not checked")))
        click.echo(_t(N_("OK: pack %(pack)s version %(version)s, %(count)s files, "
                         "%(size)s, %(signed)s."), pack=m.id, version=m.version,
                      count=len(m.files), size=_mb(m.total_bytes), signed=signed))
        return
    for problem in report.problems:
        click.echo(problem.render(lang), err=True)
    raise click.ClickException(_t(N_("%(target)s: %(count)s problem(s)."), target=label,
                                  count=len(report.problems)))


@pack_group.command("verify")
@click.argument("target")
@click.option("--key", "keys", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Also trust this public key file (.pub).")
@pass_ctx
def verify(obj: Context, target: str, keys: tuple[Path, ...]) -> None:
    """Check every hash and the signature of the pack folder TARGET, or every file of the
    installed pack TARGET, and say what is wrong."""
    path = Path(target)
    try:
        total = read_manifest(path).total_bytes if path.is_dir() else 0
    except ArdoiseError:
        total = 0  # reported below, with the other problems
    if not path.is_dir():
        with obj.session() as session:
            pack = active_pack(session, target)
            total = pack.total_bytes if pack is not None else 0
    with click.progressbar(length=max(total, 1), label=_t(N_("Verifying %(target)s"),
                                                          target=target)) as bar:
        if path.is_dir():
            report = verify_folder(path, _trust(obj, keys), bar.update)
        else:
            with obj.session() as session:
                report = verify_installed(session, obj.data_dir, target, bar.update)
    _print_report(report, target)


# -- for publishers -----------------------------------------------------------------------

@pack_group.command("keygen")
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False),
              default=".", show_default=True, help="Where to write NAME.key and NAME.pub.")
def keygen(name: str, folder: Path) -> None:
    """Make a publisher key pair: NAME.key (keep it secret) and NAME.pub (give it to the
    hubs)."""
    pair = generate_key(folder, name)
    click.echo(_t(N_("Private key: %(private)s (keep it secret, make a backup). Public key: "
                     "%(public)s (fingerprint %(key)s) for the hubs' setting "
                     "pack_trusted_keys."), private=str(pair.private_path),
                  public=str(pair.public_path), key=pair.fingerprint))


@pack_group.command("sign")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--key", "key_file", required=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The publisher's private key (NAME.key).")
def sign(folder: Path, key_file: Path) -> None:
    """Sign the pack in FOLDER (after checking every file against its manifest)."""
    key = load_private_key(key_file)
    report = verify_folder(folder, None)
    if not report.ok:
        _print_report(report, str(folder))
    fingerprint = sign_file(key, folder / "manifest.json", folder / "manifest.sig",
                            MANIFEST_CONTEXT)
    click.echo(_t(N_("Signed %(pack)s %(version)s with key %(key)s."),
                  pack=report.manifest.id if report.manifest else folder.name,
                  version=report.manifest.version if report.manifest else "", key=fingerprint))


def _codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@pack_group.command("build")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--id", "pack_id", help="Short name: lowercase letters, digits, dashes.")
@click.option("--version", help="Version, such as 1.0.0; give a new one for each update.")
@click.option("--title", help="Title (used in French and English).")
@click.option("--title-fr", help="French title.")
@click.option("--title-en", help="English title.")
@click.option("--description", help="Description (used in French and English).")
@click.option("--language", help="Language of the resources, such as fr or en.")
@click.option("--subject", "subjects", multiple=True, help="PFEQ subject code (repeatable).")
@click.option("--cycle", "cycles", multiple=True, help="PFEQ cycle code (repeatable).")
@click.option("--licence", help="Creative Commons licence, such as CC-BY-SA-4.0.")
@click.option("--publisher", help="Who publishes the pack.")
def build(folder: Path, pack_id: str | None, version: str | None, title: str | None,
          title_fr: str | None, title_en: str | None, description: str | None,
          language: str | None, subjects: tuple[str, ...], cycles: tuple[str, ...],
          licence: str | None, publisher: str | None) -> None:
    """Make the manifest of the folder of resources FOLDER: every file listed and hashed,
    a resource for each page, PDF, picture, recording, video, document or ZIM archive.
    Building again keeps the resources' ids and titles."""
    meta: dict[str, Any] = {"id": pack_id, "version": version, "language": language,
                            "licence": licence, "publisher": publisher,
                            "subjects": _codes(subjects), "cycles": _codes(cycles)}
    if title or title_fr or title_en:
        meta["title"] = {"fr": title_fr or title or title_en,
                         "en": title_en or title or title_fr}
    if description:
        meta["description"] = {"fr": description, "en": description}
    report = build_manifest(folder, meta)
    m = report.manifest
    click.echo(_t(N_("Pack %(pack)s %(version)s: %(resources)s resources, %(files)s files, "
                     "%(size)s."), pack=m.id, version=m.version, resources=len(m.resources),
                  files=len(m.files), size=_mb(m.total_bytes)))
    lines: list[tuple[str, list[str]]] = [
        (N_("New resources: %(items)s"), report.added),
        (N_("Resources gone since the last build: %(items)s"), report.removed),
        (N_("Titled from their file name (write a better title in manifest.json): "
            "%(items)s"), report.untitled),
        (N_("Not classified (kept in the pack, but not shown in the library): %(items)s"),
         report.unclassified)]
    for message, items in lines:
        if items:
            click.echo(_t(message, items=", ".join(items)))
    click.echo(_t(N_("Next: sign it with 'ardoise pack sign %(folder)s --key NAME.key'."),
                  folder=str(folder)))


@pack_group.command("publish")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("tree", type=click.Path(path_type=Path, file_okay=False))
@click.option("--key", "key_file", required=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Private key that signs the tree's index.")
@click.option("--trust", "trusted", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Also accept packs signed by this public key file.")
@pass_ctx
def publish(obj: Context, folder: Path, tree: Path, key_file: Path,
            trusted: tuple[Path, ...]) -> None:
    """Verify the signed pack in FOLDER and add it to TREE, the folder the central's rsync
    daemon serves, then rewrite and sign TREE's index."""
    key = load_private_key(key_file)
    done = publish_pack(folder, tree, trust=_trust(obj, trusted), key=key)
    click.echo(_t(N_("Published %(pack)s %(version)s in %(folder)s."), pack=done.pack_id,
                  version=done.version, folder=str(tree)))


@pack_group.command("serve")
@click.argument("tree", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--address", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=873, show_default=True, type=int, help="Port to listen on.")
@click.option("--module", default="packs", show_default=True, help="rsync module name.")
@click.option("--max-connections", default=20, show_default=True, type=int,
              help="Hubs served at once; others retry later.")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the configuration, pid and log go (default: data_dir/rsyncd).")
@pass_ctx
def serve(obj: Context, tree: Path, address: str, port: int, module: str,
          max_connections: int, workdir: Path | None) -> None:
    """Serve the pack tree TREE to the hubs with an rsync daemon (runs until stopped)."""
    work = workdir or obj.data_dir / "rsyncd"
    click.echo(_t(N_("Serving %(folder)s at rsync://%(address)s:%(port)s/%(module)s"),
                  folder=str(tree), address=address, port=port, module=module))
    code = serve_tree(tree, address=address, port=port, workdir=work, module=module,
                      max_connections=max_connections)
    if code:
        log = work / "rsyncd.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
        raise click.ClickException("\n".join([f"rsync --daemon: {code}", *tail]))

