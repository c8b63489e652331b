"""The hub's side of the relation with its central: enrollment, "sync now", status.

Enrollment makes the hub's Ed25519 key (data_dir/sync/hub_key.pem), presents it with the
one-time token, and records the answer in `sync_enrollment`, with the central's own public
key: USB bundles from the central are checked against it, and so is a central found on
the local network before anything is sent to it (`check_central`). A sync runs rounds
until both directions are complete, correcting this device's clock from the central's
answer when the central refuses a request as being too far in time.

Every request says which language its user reads (`language`: the hub's setting for the
agent, the terminal's for a command), so the central's refusals arrive in it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import urllib.parse
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgpack
from sqlalchemy import Engine, select, update

from ardoise.db import utcnow
from ardoise.errors import Conflict, Forbidden, Invalid, NotFound
from ardoise.i18n import N_
from sync import blobs, changes, signing
from sync import instance as inst
from sync.client import (
    HttpTransport,
    RoundStats,
    SyncRefused,
    SyncUnavailable,
    accept_language,
    error_of,
    sync_round,
)
from sync.registry import Registry
from sync.scope import Scope
from sync.tables import SyncEnrollment

ENROLL_PATH = "/api/v1/sync/enroll"
HELLO_PATH = "/api/v1/sync/hello"
ENR = SyncEnrollment.__table__


class NotOurCentral(Forbidden):
    """A server that is not the central this hub enrolled with (nothing is sent to it)."""

    code = "not_our_central"


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "sync" / "hub_key.pem"


@dataclass(frozen=True)
class Enrollment:
    hub_id: uuid.UUID
    central_url: str
    central_instance: uuid.UUID | None
    scope: Scope
    school_id: uuid.UUID
    central_key: bytes | None = None


def enrollment(engine: Engine) -> Enrollment | None:
    with engine.connect() as conn:
        row = conn.execute(select(ENR).where(ENR.c.key == 1)).first()
    if row is None:
        return None
    return Enrollment(row.hub_id, row.central_url, row.central_instance,
                      Scope.parse(row.scope), row.school_id, row.central_key)


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(N_("%(url)s is not a central address: give its URL, for example "
                         "https://central.example.org"), url=url)
    return url.rstrip("/")


def enroll(engine: Engine, data_dir: Path, url: str, token: str, name: str = "",
           timeout: float = 30.0, language: str = "") -> Enrollment:
    """Present a one-time token to the central and remember the enrollment."""
    url = _check_url(url)
    key = signing.load_or_create_key(key_path(data_dir))
    with engine.begin() as conn:
        local = inst.ensure_local(conn)
    body = json.dumps({"token": token, "public_key": base64.b64encode(
        signing.public_raw(key)).decode(), "instance": str(local), "name": name}).encode()
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn_http = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn_http.request("POST", parts.path.rstrip("/") + ENROLL_PATH, body=body,
                          headers={"Content-Type": "application/json",
                                   "Accept": "application/json",
                                   "Accept-Language": accept_language(language)})
        resp = conn_http.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise SyncUnavailable(N_("The central is unreachable: %(reason)s"),
                              reason=str(exc) or type(exc).__name__) from None
    finally:
        conn_http.close()
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    if resp.status != 200:
        err = data.get("error", {}) if isinstance(data, dict) else {}
        raise SyncRefused(resp.status, err.get("code", ""), err.get("message", str(resp.status)),
                          err.get("details", {}))
    try:
        values = {"hub_id": uuid.UUID(data["hub_id"]), "central_url": url,
                  "central_instance": uuid.UUID(data["central"]), "scope": data["scope"],
                  "school_id": uuid.UUID(data["school_id"]), "enrolled_at": utcnow(),
                  "last_error": "", "last_stats": "{}",
                  "central_key": base64.b64decode(data["central_key"], validate=True)}
        Scope.parse(values["scope"])
        if len(values["central_key"]) != 32:
            raise ValueError("central key")
    except (KeyError, ValueError, TypeError):
        raise Invalid(N_("The central's answer to the enrollment is malformed.")) from None
    with engine.begin() as conn:
        conn.execute(ENR.delete())
        conn.execute(ENR.insert().values(key=1, **values))
    found = enrollment(engine)
    assert found is not None
    return found


def sync_now(engine: Engine, registry: Registry, data_dir: Path, *,
             url: str | None = None, clock: inst.Clock = inst.DEFAULT_CLOCK,
             health: dict[str, Any] | None = None, progress: Any = None,
             connect_timeout: float = 15.0, read_timeout: float = 60.0,
             rate_kbps: int = 0, language: str = "", photo_max_px: int = 0) -> RoundStats:
    """One complete sync with the central (raises SyncUnavailable/SyncRefused).

    `language`: of whoever reads the errors (the central answers in it, and the last
    error is kept in it); `photo_max_px`: send large photos as a smaller JPEG (0: no)."""
    enr = enrollment(engine)
    if enr is None:
        raise NotFound(N_("This hub is not enrolled with a central: run 'ardoise sync "
                          "enroll URL TOKEN' with a token from the service centre."))
    key = signing.load_or_create_key(key_path(data_dir))
    transport = HttpTransport(url or enr.central_url, enr.hub_id, key,
                              connect_timeout=connect_timeout, read_timeout=read_timeout,
                              clock=clock.now, rate_kbps=rate_kbps, language=language)
    shrink = None
    if photo_max_px > 0:
        from sync.photos import PhotoShrinker  # Pillow only where photos are shrunk

        shrink = PhotoShrinker(data_dir, photo_max_px)
    with engine.begin() as conn:
        changes.adopt_unstamped(conn, registry, clock)
        conn.execute(update(ENR).where(ENR.c.key == 1).values(last_attempt_at=utcnow()))
    try:
        stats = _round_with_clock_repair(engine, registry, transport, enr, clock, progress,
                                         health)
        if stats.central is not None:  # files after the records (lower priority)
            stats.extra["files"] = blobs.upload(engine, registry, enr.scope, data_dir,
                                                stats.central, transport.call, shrink=shrink)
            stats.extra["files_down"] = blobs.download(engine, registry, enr.scope, data_dir,
                                                       transport.call)
    except (SyncUnavailable, SyncRefused, Conflict, Invalid) as exc:
        with engine.begin() as conn:
            conn.execute(update(ENR).where(ENR.c.key == 1).values(
                last_error=exc.render(language or None)))
        raise
    finally:
        transport.close()
    stats.extra.update(requests=transport.requests, bytes_sent=transport.bytes_sent,
                       bytes_received=transport.bytes_received)
    with engine.begin() as conn:
        conn.execute(update(ENR).where(ENR.c.key == 1).values(
            last_ok_at=utcnow(), last_error="",
            last_stats=json.dumps({k: v for k, v in asdict(stats).items() if k != "central"},
                                  default=str)))
    return stats


FUTURE_MARGIN_MS = 3_600_000  # our own stamps further ahead than this are taken back


def _round_with_clock_repair(engine: Engine, registry: Registry, transport: HttpTransport,
                             enr: Enrollment, clock: inst.Clock, progress: Any,
                             health: dict[str, Any] | None) -> RoundStats:
    """A round; when the central says our clock is wrong, fix it and try once more.

    401 clock_skew: the request's time is out of the window; the answer carries the
    central's time, from which we learn our offset. 422 clock_skew: changes we stamped
    while our clock was ahead are refused; they get new stamps from the corrected clock.
    """
    offset: int | None = None
    for attempt in range(3):
        try:
            stats = sync_round(engine, registry, transport, enr.scope, enr.central_instance,
                               clock=clock, progress=progress, health=health)
            if offset is not None:
                stats.clock_offset_ms = offset
            return stats
        except SyncRefused as exc:
            if exc.remote_code != "clock_skew" or attempt == 2:
                raise
            server_time = exc.details_.get("server_time")
            if exc.status_code == 401 and isinstance(server_time, int):
                offset = int(server_time * 1000 - clock.ms())
                with engine.begin() as conn:
                    inst.set_clock_offset(conn, offset)
                transport.offset_s = offset / 1000
            elif exc.status_code == 422:
                with engine.begin() as conn:
                    wall = clock.ms() + inst.clock_offset(conn)
                    if not changes.restamp_future(conn, registry, wall, FUTURE_MARGIN_MS,
                                                  clock):
                        raise
            else:
                raise
    raise AssertionError("unreachable")


def check_central(engine: Engine, data_dir: Path, url: str, *, language: str = "",
                  timeout: float = 15.0) -> str:
    """Make sure the server at `url` (found on the local network) is this hub's central
    before anything is sent to it: it must sign a random challenge with the key learned
    at enrollment. Returns the URL; NotOurCentral (or SyncUnavailable) otherwise."""
    enr = enrollment(engine)
    if enr is None:
        raise NotFound(N_("This hub is not enrolled with a central: run 'ardoise sync "
                          "enroll URL TOKEN' with a token from the service centre."))
    url = _check_url(url)
    key = signing.load_or_create_key(key_path(data_dir))
    transport = HttpTransport(url, enr.hub_id, key, connect_timeout=timeout,
                              read_timeout=timeout, language=language)
    challenge = os.urandom(32)
    try:
        resp = transport.post(HELLO_PATH, challenge)
        if resp.status != 200:
            raise NotOurCentral(N_("The server at %(url)s is not this hub's central: "
                                   "%(reason)s"), url=url, reason=error_of(resp).reason)
        raw = resp.read()
    finally:
        transport.close()
    try:
        answer = msgpack.unpackb(raw, raw=False)
        central = uuid.UUID(bytes=answer["central"])
        signature = answer["signature"]
    except (ValueError, KeyError, TypeError, msgpack.ExtraData, msgpack.FormatError):
        central, signature = None, None
    if (central is None or central != enr.central_instance or not isinstance(signature, bytes)
            or not signing.check(enr.central_key, signature,
                                 signing.hello_message(challenge, central))):
        raise NotOurCentral(N_("The server at %(url)s is not this hub's central: it could "
                               "not prove it holds the central's key."), url=url)
    return url


def bundle_verifier(enr: Enrollment | None) -> Any:
    """A verifier for `sync.bundle.import_file` on a hub: the bundle must come from this
    hub's central and carry its signature, made with the key learned at enrollment."""
    def verify(header: dict[str, Any], signed_part: bytes, signature: bytes | None) -> Scope:
        if enr is None or enr.central_instance is None or (
                header.get("src") != enr.central_instance.bytes):
            raise Forbidden(N_("This bundle does not come from this hub's central."))
        if enr.central_key is None:
            raise Forbidden(N_("This hub does not know its central's key: enroll it again "
                               "with a new token, then import the bundle."))
        if signature is None:
            raise signing.BadSignature(N_("This bundle is not signed by this hub's central: "
                                          "ask the service centre for a new one."))
        if not signing.check(enr.central_key, signature, hashlib.sha256(signed_part).digest()):
            raise signing.BadSignature(N_("This bundle's signature is wrong: the file was "
                                          "changed or signed by another key."))
        return enr.scope

    return verify


def status(engine: Engine) -> dict[str, Any]:
    """What `ardoise sync status` and the pages show."""
    with engine.connect() as conn:
        row = conn.execute(select(ENR).where(ENR.c.key == 1)).first()
        local = inst.current(conn)
    if row is None:
        return {"enrolled": False, "instance": str(local.instance)}
    return {"enrolled": True, "instance": str(local.instance), "hub_id": str(row.hub_id),
            "central_url": row.central_url, "scope": row.scope,
            "last_attempt_at": row.last_attempt_at, "last_ok_at": row.last_ok_at,
            "last_error": row.last_error, "last_stats": json.loads(row.last_stats or "{}")}


__all__ = ["Enrollment", "NotOurCentral", "bundle_verifier", "check_central", "enroll",
           "enrollment", "key_path", "status", "sync_now"]
