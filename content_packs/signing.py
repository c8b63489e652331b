"""Publisher keys (Ed25519) and signatures of manifests and indexes.

A publisher signs the exact bytes of `manifest.json`; since the manifest lists the SHA-256
of every file, the signature covers the whole pack. The signature sits beside it in
`manifest.sig` (JSON: algorithm, the public key, the signature, all base64), so a hub can
say WHICH key signed a pack it does not trust. The signed message is prefixed with what
it is (`ardoise-pack-manifest-v1`, `ardoise-pack-index-v1`), so a manifest's signature can
never pass for an index's.

Keys: the private key is a PEM (PKCS#8) file readable only by its owner; the public key
is one line of base64 (32 bytes), the format the image builder writes into
/etc/ardoise/trusted-publishers/*.pub. Hubs trust the keys of the `pack_trusted_keys`
setting: files, folders of *.pub files, or keys written inline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ardoise.errors import Conflict, Invalid, SettingsError
from ardoise.i18n import N_
from content_packs.errors import PackRefused

if TYPE_CHECKING:  # cryptography (8 MiB) is loaded where keys are used: the web never signs
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ALGORITHM = "ed25519"
MANIFEST_CONTEXT = b"ardoise-pack-manifest-v1\n"
INDEX_CONTEXT = b"ardoise-pack-index-v1\n"
MAX_SIGNATURE_BYTES = 4096


def fingerprint(public_raw: bytes) -> str:
    """A short name for a public key, shown in messages: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_raw(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def decode_public_key(value: str) -> bytes | None:
    """32 raw bytes from a key written in base64 or hex, optionally as `name:KEY`."""
    raw = value.rsplit(":", 1)[-1].strip()
    for decode in (bytes.fromhex, lambda s: base64.b64decode(s, validate=True)):
        try:
            key = decode(raw)
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    return None


# -- publisher keys -----------------------------------------------------------------------

@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    fingerprint: str


def generate_key(folder: Path, name: str) -> KeyPair:
    """Write NAME.key (private, 0600) and NAME.pub (base64 public key) into `folder`.
    Refuses to overwrite an existing key: losing a publisher key orphans every hub that
    trusts it."""
    if not name or "/" in name or name.startswith("."):
        raise Invalid(N_("A key name is a plain file name, such as recit-gaspesie."))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise Conflict(N_("%(path)s already exists: choose another key name."),
                           path=str(path))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    raw = public_raw(key)
    public_path.write_text(base64.b64encode(raw).decode() + "\n", encoding="ascii")
    return KeyPair(private_path, public_path, fingerprint(raw))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Invalid(N_("Cannot read the key %(path)s: %(reason)s."), path=str(path),
                      reason=exc.strerror or str(exc)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid(N_("%(path)s is not an Ed25519 private key made by 'ardoise pack "
                         "keygen'."), path=str(path))
    return key


# -- signatures ---------------------------------------------------------------------------

def signature_document(key: Ed25519PrivateKey, data: bytes, context: bytes) -> bytes:
    """The signature file's bytes for `data` (a manifest or an index)."""
    doc = {"algorithm": ALGORITHM,
           "key": base64.b64encode(public_raw(key)).decode(),
           "signature": base64.b64encode(key.sign(context + data)).decode()}
    return (json.dumps(doc, indent=2) + "\n").encode()


@dataclass(frozen=True)
class Signature:
    key: bytes
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


def parse_signature(raw: bytes, pack: str, file: str) -> Signature:
    """Read a signature file; refuses anything else with the pack and the file named."""
    try:
        if len(raw) > MAX_SIGNATURE_BYTES:
            raise ValueError
        doc = json.loads(raw.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("algorithm") != ALGORITHM:
            raise ValueError
        key = base64.b64decode(doc["key"], validate=True)
        sig = base64.b64decode(doc["signature"], validate=True)
        if len(key) != 32 or len(sig) != 64:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise PackRefused(N_("Pack %(pack)s: %(file)s is damaged or is not an Ed25519 "
                             "signature."), hint=N_("Copy the pack again from its source."),
                          pack=pack, file=file) from None
    return Signature(key, sig)


@dataclass(frozen=True)
class Trust:
    """The publisher keys this hub accepts, by fingerprint. `allow_unsigned` (a setting
    for development and demos only) lets packs without a signature in; a signature that
    is present is still checked."""

    keys: Mapping[str, bytes] = field(default_factory=dict)
    allow_unsigned: bool = False

    @classmethod
    def of(cls, keys: Iterable[bytes], allow_unsigned: bool = False) -> Trust:
        return cls({fingerprint(k): k for k in keys}, allow_unsigned)

    def check(self, pack: str, data: bytes, signature: bytes | None, *,
              file: str = "manifest.sig", context: bytes = MANIFEST_CONTEXT) -> str | None:
        """Check `signature` (the signature file's bytes, None when there is none) of
        `data`. Returns the signer's fingerprint (None: unsigned and allowed)."""
        if signature is None:
            if self.allow_unsigned:
                return None
            raise PackRefused(N_("Pack %(pack)s has no signature (%(file)s is missing): this "
                                 "hub installs only packs signed by a trusted publisher."),
                              hint=N_("Ask the publisher for a signed copy."),
                              pack=pack, file=file)
        sig = parse_signature(signature, pack, file)
        key = self.keys.get(sig.fingerprint)
        if key is None or key != sig.key:
            raise PackRefused(N_("Pack %(pack)s is signed (%(file)s) by the key %(key)s, which "
                                 "this hub does not trust."),
                              hint=N_("Add the publisher's public key to the setting "
                                      "pack_trusted_keys."),
                              pack=pack, file=file, key=sig.fingerprint)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(key).verify(sig.signature, context + data)
        except InvalidSignature:
            raise PackRefused(N_("Pack %(pack)s: the signature in %(file)s does not match: the "
                                 "pack was changed after it was signed, or the signature "
                                 "was forged."),
                              hint=N_("Copy the pack again from its source."),
                              pack=pack, file=file) from None
        return sig.fingerprint


def load_trust(spec: str, allow_unsigned: bool = False) -> Trust:
    """The keys named by the `pack_trusted_keys` setting: comma-separated entries, each a
    folder (every *.pub in it), a .pub file, or a key written inline (base64 or hex,
    optionally `name:KEY`). A folder that does not exist holds no key (a hub without
    publishers yet); a file that is not a key is an error naming it."""
    keys: list[bytes] = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        path = Path(entry)
        if path.is_dir():
            files = sorted(path.glob("*.pub"))
        elif path.is_file():
            files = [path]
        elif (inline := decode_public_key(entry)) is not None:
            keys.append(inline)
            continue
        elif entry.startswith(("/", "./", "../")):
            continue  # a folder not made yet: no key from it
        else:
            raise SettingsError(N_("Setting pack_trusted_keys: %(value)s is neither a key nor "
                                   "a file or folder of keys."), value=entry[:80])
        for file in files:
            try:
                text = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                text = ""
            key = decode_public_key(text)
            if key is None:
                raise SettingsError(N_("Setting pack_trusted_keys: %(value)s is not an Ed25519 "
                                       "public key (one line of base64)."), value=str(file))
            keys.append(key)
    return Trust.of(keys, allow_unsigned)


def trust_from_settings(settings: Mapping[str, object]) -> Trust:
    return load_trust(str(settings["pack_trusted_keys"]),
                      bool(settings["pack_allow_unsigned"]))


def sign_file(key: Ed25519PrivateKey, data_path: Path, signature_path: Path,
              context: bytes) -> str:
    """Sign the bytes of `data_path` into `signature_path` (replaced atomically);
    returns the key's fingerprint."""
    doc = signature_document(key, Path(data_path).read_bytes(), context)
    tmp = signature_path.with_name(f".{signature_path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(doc)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, signature_path)
    return fingerprint(public_raw(key))


__all__ = [
    "INDEX_CONTEXT",
    "MANIFEST_CONTEXT",
    "KeyPair",
    "Signature",
    "Trust",
    "decode_public_key",
    "fingerprint",
    "generate_key",
    "load_private_key",
    "load_trust",
    "parse_signature",
    "public_raw",
    "sign_file",
    "signature_document",
    "trust_from_settings",
]
