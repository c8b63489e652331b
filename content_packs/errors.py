"""Errors of content packs: a refused pack names the pack, the file and the reason."""

from __future__ import annotations

from ardoise.errors import ArdoiseError, Invalid


class PackRefused(Invalid):
    """A pack that does not match its manifest or its signature; names the pack and the
    file. Nothing of it is installed."""

    code = "pack_refused"


class FileDamaged(PackRefused):
    """A file whose SHA-256 differs from the manifest's."""

    code = "pack_file_damaged"


class TransferFailed(ArdoiseError, OSError):
    """A source that could not be reached or stopped answering; what already arrived is
    kept so that the next attempt resumes."""

    status = 502
    code = "transfer_failed"


__all__ = ["FileDamaged", "PackRefused", "TransferFailed"]
