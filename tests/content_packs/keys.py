"""A publisher for the tests: its key, its key files and the trust a hub gives it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from content_packs.signing import MANIFEST_CONTEXT, Trust, sign_file


@dataclass(frozen=True)
class Publisher:
    key: Ed25519PrivateKey
    private_path: Path
    public_path: Path
    trust: Trust

    def sign(self, folder: Path) -> Path:
        sign_file(self.key, folder / "manifest.json", folder / "manifest.sig",
                  MANIFEST_CONTEXT)
        return folder


def make_publisher(folder: Path, name: str = "recit") -> Publisher:
    """A new publisher key pair written into `folder`."""
    from content_packs.signing import generate_key, load_private_key, public_raw

    pair = generate_key(folder, name)
    key = load_private_key(pair.private_path)
    return Publisher(key, pair.private_path, pair.public_path, Trust.of([public_raw(key)]))
