"""Per-device secrets, made on the device the first time and never shipped in the image:
the web secret key and the hub's Ed25519 key pair (its identity towards the central)."""

from __future__ import annotations

import os
from pathlib import Path

from image_builder.firstboot.system import write_file

SECRET_KEY_FILE = "secret_key"  # the name the web app reads in data_dir
HUB_KEY_FILE = "keys/hub_ed25519"


def ensure_secret_key(data_dir: Path) -> bool:
    """Create data_dir/secret_key if absent; True when made now."""
    path = data_dir / SECRET_KEY_FILE
    if path.is_file() and path.read_text().strip():
        return False
    write_file(path, os.urandom(32).hex(), 0o600)
    return True


def ensure_hub_keypair(data_dir: Path) -> bool:
    """Create the hub's Ed25519 key pair (PEM, private key readable only by its owner).

    Raises ImportError when the `cryptography` package is not installed, which the caller
    reports as a step to retry on the next boot.
    """
    private = data_dir / HUB_KEY_FILE
    if private.is_file():
        return False
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    write_file(private.with_suffix(".pub"), pub.decode(), 0o644)
    write_file(private, pem, 0o600)
    return True


__all__ = ["HUB_KEY_FILE", "SECRET_KEY_FILE", "ensure_hub_keypair", "ensure_secret_key"]
