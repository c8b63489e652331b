"""`ardoise pack ...`: install, list, remove packs and rebuild the search index.

Thin: each command calls content_packs and prints the result in the user's language.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.i18n import N_, cli_locale, translate
from content_packs.catalog import list_packs
from content_packs.install import (
    check_installable,
    install_pack,
    install_work,
    reindex,
    remove_pack,
)


def _t(message: str, **params: object) -> str:
    return translate(message, cli_locale(), **params)


@click.group("pack", cls=ArdoiseGroup)
def pack_group() -> None:
    """Content packs: install, list, remove."""


@pack_group.command("install")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
def install(obj: Context, folder: Path) -> None:
    """Verify the pack in FOLDER and make it the active version of that pack."""
    with obj.session() as session:
        manifest = check_installable(session, folder)
    with obj.session() as session, click.progressbar(
            length=max(install_work(manifest), 1),
            label=_t(N_("Copying and verifying %(pack)s %(version)s"), pack=manifest.id,
                     version=manifest.version)) as bar:
        pack = install_pack(session, obj.data_dir, folder, progress=bar.update)
    click.echo(_t(N_("Installed pack %(pack)s version %(version)s: %(count)s resources."),
                  pack=pack.pack_id, version=pack.version, count=len(manifest.resources)))


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


@pack_group.command("reindex")
@pass_ctx
def reindex_command(obj: Context) -> None:
    """Rebuild the search index from the installed packs."""
    with obj.session() as session:
        count = reindex(session, obj.data_dir)
    click.echo(_t(N_("Search index rebuilt: %(count)s resources."), count=count))
