"""Ed25519 keys of enrolled hubs and signatures of sync requests.

Each hub makes its own key at enrollment (kept in data_dir, readable only by its
owner); the central stores the public half. A request is signed over its method, path,
the SHA-256 of its body, a timestamp and a random nonce, so a changed body, a request
replayed later or elsewhere, or one signed by another key is refused. The central has a
key of its own, whose public half hubs receive at enrollment: it signs the central's USB
bundles and its answer to a hub's challenge (`hello_message`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ardoise.errors import Invalid, Unauthorized
from ardoise.i18n import N_

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# cryptography (8 MiB) is imported where keys are used: the hub's web process imports this
# module (through the sync status page) but never signs nor verifies.

HUB = "X-Ardoise-Hub"
TIMESTAMP = "X-Ardoise-Timestamp"
NONCE = "X-Ardoise-Nonce"
SIGNATURE = "X-Ardoise-Signature"
WINDOW_SECONDS = 300


class BadSignature(Unauthorized):
    code = "bad_signature"


class RequestClockSkew(Unauthorized):
    code = "clock_skew"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """This device's private key, made on first use in a file only its owner can read.

    Several processes may race to make it (the central's web processes): the first file
    linked into place wins and everyone reads that one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # fails if another process made it first: keep theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid(N_("The key file %(path)s is not an Ed25519 key."), path=str(path))
    return key


def public_raw(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def check(public: bytes | None, signature: bytes | None, message: bytes) -> bool:
    """Whether `signature` is `public`'s signature of `message` (False for anything
    malformed or missing)."""
    if not public or not signature or len(public) != 32:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def hello_message(challenge: bytes, central: uuid.UUID) -> bytes:
    """What a central signs to prove, to a hub that found it on the network, that it holds
    the key the hub learned at enrollment."""
    return b"ardoise-central-hello-1\n" + challenge + b"\n" + central.bytes


def _message(method: str, path: str, body: bytes, timestamp: str, nonce: str) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"ardoise-sync-1\n{method.upper()}\n{path}\n{digest}\n{timestamp}\n{nonce}".encode()


def sign(key: Ed25519PrivateKey, hub_id: uuid.UUID, method: str, path: str, body: bytes,
         now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers that authenticate one request."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or os.urandom(16).hex()
    signature = key.sign(_message(method, path, body, timestamp, nonce))
    return {HUB: str(hub_id), TIMESTAMP: timestamp, NONCE: nonce,
            SIGNATURE: base64.b64encode(signature).decode()}


@dataclass(frozen=True)
class Signed:
    hub_id: uuid.UUID
    nonce: str
    timestamp: int


def parse(headers: dict[str, str]) -> Signed:
    """The claimed hub, nonce and time of a request (not yet verified)."""
    missing = [h for h in (HUB, TIMESTAMP, NONCE, SIGNATURE) if not headers.get(h)]
    if missing:
        raise Invalid(N_("This request is not signed (missing %(header)s): sync requests "
                         "must come from an enrolled hub."), header=missing[0])
    try:
        hub_id = uuid.UUID(headers[HUB])
        timestamp = int(headers[TIMESTAMP])
    except ValueError:
        raise BadSignature(N_("The request's signature headers are malformed.")) from None
    nonce = headers[NONCE]
    if not 16 <= len(nonce) <= 64 or not all(c in "0123456789abcdef" for c in nonce):
        raise BadSignature(N_("The request's signature headers are malformed."))
    return Signed(hub_id, nonce, timestamp)


def verify(public: bytes, headers: dict[str, str], method: str, path: str, body: bytes,
           now: float | None = None, window: int = WINDOW_SECONDS) -> Signed:
    """Check a request's signature and time; BadSignature or RequestClockSkew if not."""
    signed = parse(headers)
    current = time.time() if now is None else now
    if abs(current - signed.timestamp) > window:
        raise RequestClockSkew(
            N_("The request's time is %(seconds)s seconds away from this server's clock: "
               "the hub will correct its clock and retry."),
            seconds=int(signed.timestamp - current), server_time=int(current))
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        signature = base64.b64decode(headers[SIGNATURE], validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(
            signature, _message(method, path, body, headers[TIMESTAMP], signed.nonce))
    except (InvalidSignature, ValueError):
        raise BadSignature(N_("The request's signature is wrong: it was changed on the way "
                              "or signed by another key.")) from None
    return signed


__all__ = ["HUB", "NONCE", "SIGNATURE", "TIMESTAMP", "BadSignature", "RequestClockSkew",
           "Signed", "check", "hello_message", "load_or_create_key", "parse", "public_raw",
           "sign", "verify"]
