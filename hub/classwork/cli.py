"""`ardoise classwork ...`: upkeep of student work on disk. Thin: calls hub.classwork."""

from __future__ import annotations

import click

from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.i18n import N_, cli_locale, translate
from hub.classwork.blobs import BlobStore, collect_orphans


@click.group("classwork", cls=ArdoiseGroup)
def classwork_group() -> None:
    """Student work: files handed in."""


@classwork_group.command("gc")
@pass_ctx
def gc(obj: Context) -> None:
    """Remove handed-in files no hand-in refers to (left by a crash or power cut), and
    stale partial uploads. Only files older than an hour are touched."""
    with obj.session() as session:
        removed = collect_orphans(session, BlobStore.in_data_dir(obj.data_dir))
    click.echo(translate(N_("Removed %(count)s unused files."), cli_locale(),
                         count=len(removed)))
