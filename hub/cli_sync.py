"""`ardoise sync ...`: thin commands over `sync` (the hub side) and `hub.central.fleet`.

On a hub: enroll, now, status, export, import. On the central: token (make a one-time
enrollment token for a school), revoke (a hub), export --hub and import of USB bundles.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.errors import Invalid, NotFound
from ardoise.i18n import N_, cli_locale, translate
from hub.central import fleet
from hub.central.models import CentralHub
from hub.models import School
from hub.sync_registry import registry
from sync import blobs, bundle, hubside, signing


def say(message: str, **params: Any) -> None:
    click.echo(translate(message, cli_locale(), **params))


def _central(obj: Context) -> bool:
    return obj.settings.role == "central"


@click.group("sync", cls=ArdoiseGroup)
def sync_group() -> None:
    """Sync with the central server, or by USB stick."""


@sync_group.command("enroll")
@click.argument("url")
@click.argument("token")
@click.option("--name", default="", help="A name for this hub on the central's pages.")
@pass_ctx
def enroll_cmd(obj: Context, url: str, token: str, name: str) -> None:
    """Enroll this hub with the central at URL using a one-time TOKEN."""
    enr = hubside.enroll(obj.engine, obj.data_dir, url, token, name, language=cli_locale())
    say(N_("Enrolled with %(url)s as hub %(hub)s."), url=enr.central_url, hub=str(enr.hub_id))


@sync_group.command("now")
@pass_ctx
def now_cmd(obj: Context) -> None:
    """Sync with the central now (both directions, until done)."""
    stats = hubside.sync_now(obj.engine, registry(), obj.data_dir,
                             url=obj.settings.sync_central_url or None, language=cli_locale(),
                             rate_kbps=obj.settings.sync_bandwidth_kbps,
                             photo_max_px=obj.settings.sync_photo_max_px)
    say(N_("Synced: %(sent)s rows sent, %(received)s received, %(requests)s requests."),
        sent=stats.pushed_rows, received=stats.pulled_rows, requests=stats.requests)


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def status_cmd(obj: Context, as_json: bool) -> None:
    """Enrollment, last sync and last error."""
    info = hubside.status(obj.engine)
    with obj.engine.connect() as conn:
        info["missing_files"] = [m["sha256"] for m in blobs.missing_files(conn)]
    if as_json:
        click.echo(json.dumps(info, default=str, indent=2))
        return
    if not info["enrolled"]:
        say(N_("Not enrolled with a central (instance %(instance)s)."),
            instance=info["instance"])
        return
    say(N_("Central: %(url)s; last successful sync: %(ok)s; last error: %(error)s"),
        url=info["central_url"], ok=str(info["last_ok_at"] or "-"),
        error=info["last_error"] or "-")
    if info["missing_files"]:
        say(N_("%(n)s handed-in files are neither on this hub nor at the central (see the "
               "sync page); the hub asks for them again once in a while."),
            n=len(info["missing_files"]))


@sync_group.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--hub", "hub_id", help="(central) The hub the bundle is for.")
@pass_ctx
def export_cmd(obj: Context, folder: Path, hub_id: str | None) -> None:
    """Write a USB bundle into FOLDER."""
    if _central(obj):
        if not hub_id:
            raise Invalid(N_("On the central, say which hub the bundle is for: --hub ID."))
        with obj.session() as s:
            hub = s.get(CentralHub, _uuid(hub_id))
            if hub is None:
                raise NotFound(N_("This hub is not enrolled here."))
            scope, peer = fleet.scope_of(hub), hub.instance_id
        path = bundle.export(obj.engine, registry(), folder, scope, peer,
                             key=fleet.central_key(obj.data_dir))
    else:
        enr = hubside.enrollment(obj.engine)
        if enr is None:
            raise NotFound(N_("This hub is not enrolled with a central: run 'ardoise sync "
                              "enroll URL TOKEN' with a token from the service centre."))
        key = signing.load_or_create_key(hubside.key_path(obj.data_dir))
        path = bundle.export(obj.engine, registry(), folder, enr.scope, enr.central_instance,
                             key=key, hub_id=enr.hub_id)
    say(N_("Bundle written: %(path)s"), path=str(path))


@sync_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
def import_cmd(obj: Context, file: Path) -> None:
    """Apply a USB bundle (importing the same file twice is harmless)."""
    if _central(obj):
        with obj.session() as s:
            done = bundle.import_file(obj.engine, registry(), file,
                                      verify=fleet.bundle_verifier(s))
    else:
        done = bundle.import_file(obj.engine, registry(), file,
                                  verify=hubside.bundle_verifier(hubside.enrollment(obj.engine)))
    say(N_("Bundle imported: %(frames)s frames (%(dups)s already applied), %(rows)s rows."),
        frames=done.frames, dups=done.duplicates, rows=done.stats.rows)


@sync_group.command("token")
@click.argument("school_code")
@click.option("--hours", default=fleet.TOKEN_HOURS, show_default=True, type=int,
              help="How long the token stays valid.")
@click.option("--note", default="", help="A note shown on the central's pages.")
@pass_ctx
def token_cmd(obj: Context, school_code: str, hours: int, note: str) -> None:
    """(central) Make a one-time enrollment token for a school's hub."""
    if not _central(obj):
        raise Invalid(N_("Enrollment tokens are made on the central (role = central)."))
    with obj.session() as s:
        school = s.scalars(select(School).where(School.code == school_code)).first()
        if school is None:
            raise NotFound(N_("School %(school)s does not exist."), school=school_code)
        token = fleet.create_token(s, school.id, hours=hours, note=note)
        s.commit()
    say(N_("Enrollment token (shown once, valid %(hours)s hours): %(token)s"),
        hours=hours, token=token)


@sync_group.command("revoke")
@click.argument("hub_id")
@pass_ctx
def revoke_cmd(obj: Context, hub_id: str) -> None:
    """(central) Revoke a hub's key: its requests are refused until it enrolls again."""
    with obj.session() as s:
        fleet.revoke_hub(s, _uuid(hub_id))
        s.commit()
    say(N_("Hub %(hub)s revoked."), hub=hub_id)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid(N_("%(value)s is not a hub id."), value=value) from None


__all__ = ["sync_group"]
