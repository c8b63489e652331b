"""The central's sync endpoints: enrollment with a one-time token, and signed rounds.

Both are open at the HTTP level (`access.public`): a hub has no session cookie. The
enrollment checks its token, the round its Ed25519 signature, time and nonce. They
exist only on an instance whose role is `central`. Errors are answered in the language
the hub asks for (Accept-Language; see `hub.central.init_app`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
from flask import Response, current_app, jsonify, request
from sqlalchemy import Connection

from ardoise.errors import ArdoiseError, Invalid, NotFound
from ardoise.i18n import N_
from hub import access, db
from hub.api.registry import api, json_body
from hub.central import fleet
from hub.sync_registry import registry
from sync import blobs, protocol, signing, transfer
from sync import instance as inst
from sync.transfer import OutOfScope

MAINTENANCE_CHANCE = 0.01


def _central_only() -> None:
    if current_app.extensions["ardoise.settings"].role != "central":
        raise NotFound(N_("This server is a hub, not a central: sync with the central's "
                          "address."))


ENROLL_SCHEMA = {
    "type": "object", "required": ["token", "public_key", "instance"],
    "properties": {"token": {"type": "string"}, "public_key": {"type": "string"},
                   "instance": {"type": "string"}, "name": {"type": "string"}}}


@api.route("/sync/enroll", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="Enroll a hub with a one-time token (central only).",
           request_schema=ENROLL_SCHEMA, response_schema={
               "type": "object",
               "required": ["hub_id", "school_id", "scope", "central", "central_key"],
               "properties": {"hub_id": {"type": "string"}, "school_id": {"type": "string"},
                              "scope": {"type": "string"}, "central": {"type": "string"},
                              "central_key": {"type": "string"}}})
def sync_enroll() -> Any:
    _central_only()
    data = json_body()
    for key in ("token", "public_key", "instance"):
        if not isinstance(data.get(key), str):
            raise Invalid(N_("Field %(field)s is missing or not text."), field=key)
    s = db.session()
    done = fleet.enroll(s, data["token"], data["public_key"], data["instance"],
                        str(data.get("name", "")))
    central = inst.ensure_local(s.connection())
    s.commit()
    return jsonify(hub_id=str(done.hub_id), school_id=str(done.school_id), scope=done.scope,
                   central=str(central), central_key=fleet.central_public_b64(_data_dir()))


@api.route("/sync/hello", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="Sign a hub's random challenge with the central's key, so that a hub "
                   "that found this server on its network knows it is its central (signed; "
                   "central only).")
def sync_hello() -> Any:
    _central_only()
    body = request.get_data(cache=False)
    _signed_hub(body)
    s = db.session()
    central = inst.ensure_local(s.connection())
    s.commit()
    signature = fleet.hello(_data_dir(), central, body)
    return Response(msgpack.packb({"central": central.bytes, "signature": signature}),
                    mimetype="application/msgpack")


@api.route("/sync/round", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="One signed sync round (binary frames both ways; central only).")
def sync_round() -> Any:
    _central_only()
    body = request.get_data(cache=False)
    s = db.session()
    hub = _signed_hub(body)
    health = None
    try:
        req_header, _ = protocol.unpack_header(protocol.REQUEST_MAGIC, body)
        health = req_header.get("health") if isinstance(req_header.get("health"), dict) else None
        head, frames = protocol.serve_round(db.database().engine, registry(), body,
                                            peer=hub.instance_id, allowed=fleet.scope_of(hub))
    except ArdoiseError as exc:  # kept for the central's pages, in the central's language
        fleet.record_round(s, hub, rows_in=0, rows_out=0, health=health,
                           error=exc.render(current_app.extensions["ardoise.settings"].language))
        s.commit()
        raise
    fleet.record_round(s, hub, rows_in=len(body), rows_out=sum(map(len, frames)),
                       health=health)
    s.commit()
    if random.random() < MAINTENANCE_CHANCE:  # now and then, not on every round
        settings = current_app.extensions["ardoise.settings"]
        transfer.maintenance(db.database().engine, transfer_days=settings.sync_transfer_days,
                             audit_days=settings.sync_audit_days)

    def stream() -> Iterator[bytes]:
        yield head
        yield from frames

    return Response(stream(), mimetype="application/octet-stream",
                    headers={"Content-Length": str(len(head) + sum(map(len, frames)))})


def _signed_hub(body: bytes) -> fleet.CentralHub:
    headers = {h: request.headers.get(h, "") for h in (signing.HUB, signing.TIMESTAMP,
                                                        signing.NONCE, signing.SIGNATURE)}
    s = db.session()
    path = request.script_root + request.full_path.rstrip("?")
    hub = fleet.authenticate(s, headers, "POST", path, body)
    s.commit()  # the nonce stays used whatever happens next
    return hub


def _data_dir() -> Path:
    return Path(current_app.extensions["ardoise.settings"].data_dir)


@api.route("/sync/blobs", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="Which of these files the central holds (signed; central only).")
def sync_blobs_held() -> Any:
    _central_only()
    body = request.get_data(cache=False)
    _signed_hub(body)
    try:
        message = msgpack.unpackb(body, raw=False)
        asked, sending_as = message.get("have"), message.get("as")
    except (ValueError, AttributeError, msgpack.ExtraData, msgpack.FormatError):
        raise Invalid(N_("A list of files in the request is malformed.")) from None
    with db.database().engine.connect() as conn:
        held = blobs.holdings(conn, _data_dir(), asked, sending_as)
    return Response(msgpack.packb({"held": held}), mimetype="application/msgpack")


@api.route("/sync/blobs/<sha>", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="A chunk of a file at an offset; with as=SHA256, of the smaller JPEG sent "
                   "instead of a large photo (signed; central only).")
def sync_blob_chunk(sha: str) -> Any:
    _central_only()
    body = request.get_data(cache=False)
    hub = _signed_hub(body)
    try:
        offset, size = int(request.args["offset"]), int(request.args["size"])
    except (KeyError, ValueError):
        raise Invalid(N_("Parameters offset and size are required whole numbers.")) from None
    smaller = request.args.get("as") or None
    engine = db.database().engine
    with engine.connect() as conn:
        _check_referenced(conn, hub, sha)
    new = blobs.receive_chunk(_data_dir(), smaller or sha, offset, size, body)
    if new == -1 and smaller is not None and smaller != sha:
        with engine.begin() as conn:
            blobs.record_alias(conn, _data_dir(), sha, smaller)
    return Response(msgpack.packb({"offset": new}), mimetype="application/msgpack")


def _check_referenced(conn: Connection, hub: fleet.CentralHub, sha: str) -> None:
    if not blobs.is_referenced(conn, registry(), fleet.scope_of(hub), sha):
        raise OutOfScope(N_("No row of this hub's school names this file."))


@api.route("/sync/blobs/<sha>/read", methods=("POST",), roles=access.PUBLIC, tags=("sync",),
           summary="A chunk of a file of the hub's school, from an offset (signed; central "
                   "only).")
def sync_blob_read(sha: str) -> Any:
    _central_only()
    body = request.get_data(cache=False)
    hub = _signed_hub(body)
    try:
        offset = int(request.args["offset"])
    except (KeyError, ValueError):
        raise Invalid(N_("Parameters offset and size are required whole numbers.")) from None
    with db.database().engine.connect() as conn:
        _check_referenced(conn, hub, sha)
        chunk, size, content = blobs.read_chunk(conn, _data_dir(), sha, offset)
    return Response(msgpack.packb({"data": chunk, "size": size, "sha": content}),
                    mimetype="application/msgpack")


__all__ = ["sync_blob_chunk", "sync_blob_read", "sync_blobs_held", "sync_enroll",
           "sync_hello", "sync_round"]
