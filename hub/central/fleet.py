"""Enrollment and authentication of hubs on the central (library: Session in, rows out).

A technician makes a one-time token for a school; the hub presents it once with its new
Ed25519 public key and learns the central's; from then on every request of that hub is
signed and checked here: known and not revoked, signature right, time within the window,
nonce never seen. The central's own key (data_dir/sync/central_key.pem, made on first use)
signs its USB bundles and its answers to a hub's challenge (`hello`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import Invalid, NotFound, Unauthorized
from ardoise.i18n import N_
from hub.central.models import CentralHub, EnrollToken, SeenNonce
from hub.models import School
from sync import signing
from sync.scope import Scope

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TOKEN_HOURS = 72


def central_key(data_dir: Path) -> Ed25519PrivateKey:
    """This central's signing key, made on first use. Several central machines behind one
    address share it as they share the data folder (blobs)."""
    return signing.load_or_create_key(Path(data_dir) / "sync" / "central_key.pem")


def central_public_b64(data_dir: Path) -> str:
    """The central's public key as hubs receive it at enrollment."""
    return base64.b64encode(signing.public_raw(central_key(data_dir))).decode()


def hello(data_dir: Path, central: uuid.UUID, challenge: bytes) -> bytes:
    """The signature that proves to a hub this server holds the central's key."""
    if not 16 <= len(challenge) <= 64:
        raise Invalid(N_("The challenge must be 16 to 64 random bytes."))
    return central_key(data_dir).sign(signing.hello_message(challenge, central))


class Replayed(Unauthorized):
    code = "replayed"


class Revoked(Unauthorized):
    code = "revoked"


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def create_token(s: Session, school_id: uuid.UUID, *, created_by: uuid.UUID | None = None,
                 hours: int = TOKEN_HOURS, note: str = "",
                 classrooms: frozenset[uuid.UUID] | None = None) -> str:
    """A new one-time enrollment token (shown once; only its hash is stored)."""
    if s.get(School, school_id) is None:
        raise NotFound(N_("School %(school)s does not exist."), school=str(school_id))
    token = secrets.token_urlsafe(18)
    s.add(EnrollToken(token_hash=_hash(token), school_id=school_id, note=note[:200],
                      scope=Scope(school_id, classrooms).key, created_by=created_by,
                      expires_at=utcnow() + dt.timedelta(hours=hours)))
    s.flush()
    return token


def revoke_token(s: Session, token_id: uuid.UUID) -> None:
    row = s.get(EnrollToken, token_id)
    if row is None:
        raise NotFound(N_("This enrollment token does not exist."))
    row.revoked_at = row.revoked_at or utcnow()


@dataclass(frozen=True)
class Enrolled:
    hub_id: uuid.UUID
    school_id: uuid.UUID
    scope: str


def enroll(s: Session, token: str, public_key_b64: str, instance_id: str, name: str = ""
           ) -> Enrolled:
    """Use a token: the hub's key is registered for the token's school and scope."""
    row = s.scalars(select(EnrollToken).where(EnrollToken.token_hash == _hash(token))
                    .with_for_update()).first()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise Unauthorized(N_("This enrollment token is unknown or revoked: ask the "
                              "service centre for a new one."))
    if row.used_at is not None:
        raise Unauthorized(N_("This enrollment token was already used: ask the service "
                              "centre for a new one."))
    if row.expires_at < now:
        raise Unauthorized(N_("This enrollment token has expired: ask the service centre "
                              "for a new one."))
    try:
        key = base64.b64decode(public_key_b64, validate=True)
        instance = uuid.UUID(instance_id)
    except (ValueError, TypeError):
        raise Invalid(N_("The hub's public key or instance id is malformed.")) from None
    if len(key) != 32:
        raise Invalid(N_("The hub's public key or instance id is malformed."))
    existing = s.scalars(select(CentralHub).where(CentralHub.instance_id == instance)).first()
    if existing is not None:  # the same database enrolling again (new key): replace it
        existing.public_key, existing.revoked_at = key, None
        existing.school_id, existing.scope = row.school_id, row.scope
        hub = existing
    else:
        hub = CentralHub(name=name[:200], school_id=row.school_id, scope=row.scope,
                         instance_id=instance, public_key=key)
        s.add(hub)
    s.flush()
    row.used_at, row.used_by_hub = now, hub.id
    return Enrolled(hub.id, hub.school_id, hub.scope)


def revoke_hub(s: Session, hub_id: uuid.UUID) -> None:
    hub = s.get(CentralHub, hub_id)
    if hub is None:
        raise NotFound(N_("This hub is not enrolled here."))
    hub.revoked_at = hub.revoked_at or utcnow()


def authenticate(s: Session, headers: dict[str, str], method: str, path: str, body: bytes,
                 *, now: float | None = None) -> CentralHub:
    """The enrolled hub that signed this request, or Unauthorized saying why not.

    The nonce is recorded in the caller's transaction: commit it even when the sync
    itself fails, so that the same request cannot be played again.
    """
    claimed = signing.parse(headers)
    hub = s.get(CentralHub, claimed.hub_id)
    if hub is None:
        raise signing.BadSignature(N_("This hub is not enrolled with this central."))
    if hub.revoked_at is not None:
        raise Revoked(N_("This hub's key was revoked: enroll it again with a new token."))
    signed = signing.verify(hub.public_key, headers, method, path, body, now=now)
    window = dt.timedelta(seconds=signing.WINDOW_SECONDS * 2)
    s.execute(delete(SeenNonce).where(SeenNonce.seen_at < utcnow() - window))
    try:
        with s.begin_nested():
            s.execute(insert(SeenNonce).values(hub_id=hub.id, nonce=signed.nonce))
    except IntegrityError:
        raise Replayed(N_("This request was already received (replay refused).")) from None
    return hub


def record_round(s: Session, hub: CentralHub, *, rows_in: int, rows_out: int,
                 health: dict[str, Any] | None, error: str = "") -> None:
    hub.last_sync_at = utcnow()
    hub.last_rows_in, hub.last_rows_out, hub.last_error = rows_in, rows_out, error[:2000]
    if health:
        hub.health = json.dumps(health, default=str)[:20_000]
        hub.health_at = utcnow()


def scope_of(hub: CentralHub) -> Scope:
    return Scope.parse(hub.scope)




def bundle_verifier(s: Session) -> Any:
    """A verifier for `sync.bundle.import_file` on the central: the bundle must be signed
    by the key of an enrolled, unrevoked hub whose instance sent it; its scope applies."""
    def verify(header: dict[str, Any], signed_part: bytes, signature: bytes | None
               ) -> Scope:
        hub_bytes = header.get("hub")
        hub = None
        if isinstance(hub_bytes, bytes) and len(hub_bytes) == 16:
            hub = s.get(CentralHub, uuid.UUID(bytes=hub_bytes))
        if hub is None or signature is None:
            raise signing.BadSignature(N_("This bundle is not signed by a hub enrolled here."))
        if hub.revoked_at is not None:
            raise Revoked(N_("This hub's key was revoked: enroll it again with a new token."))
        if header.get("src") != hub.instance_id.bytes:
            raise signing.BadSignature(N_("This bundle is not signed by a hub enrolled here."))
        # cryptography (8 MiB) only here: a hub's web process imports this module unused
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(hub.public_key).verify(
                signature, hashlib.sha256(signed_part).digest())
        except InvalidSignature:
            raise signing.BadSignature(N_("This bundle's signature is wrong: the file was "
                                          "changed or signed by another key.")) from None
        return scope_of(hub)

    return verify


__all__ = ["Enrolled", "Replayed", "Revoked", "authenticate", "bundle_verifier",
           "central_key", "central_public_b64", "create_token", "enroll", "hello",
           "record_round", "revoke_hub", "revoke_token", "scope_of"]
