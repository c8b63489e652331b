"""USB bundles from the central carry its signature; a hub checks it against the key it
learned at enrollment and refuses a changed, unsigned or foreign bundle, applying nothing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from ardoise.errors import Forbidden
from hub.central import fleet
from hub.models import ProgressEvent, ProgressKind
from hub.sync_registry import registry
from sync import bundle, hubside, instance, signing
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _token


def _events(sessions: object) -> int:
    with sessions() as s:  # type: ignore[operator]
        return int(s.scalar(select(func.count()).select_from(ProgressEvent)))


def test_central_bundles_are_signed_and_checked(central: Central, hub_side: HubSide,
                                                tmp_path: Path) -> None:
    world = make_world(central.app, n_students=1)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    central_dir = Path(central.app.extensions["ardoise.settings"].data_dir)
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None and enr.central_instance is not None
    # the hub learned the central's public key at enrollment (one key per central)
    assert enr.central_key == signing.public_raw(fleet.central_key(central_dir))
    assert fleet.central_public_b64(central_dir) == base64.b64encode(enr.central_key).decode()
    assert (central_dir / "sync" / "central_key.pem").stat().st_mode & 0o777 == 0o600
    with central.sessions() as s:
        s.add(ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                            user_id=world.students[0].id, resource_uid="usb/1",
                            kind=ProgressKind.OPENED))
        s.commit()
    with hub_side.engine.connect() as conn:
        hub_instance = instance.current(conn).instance

    def export(name: str, key: Ed25519PrivateKey | None) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        return bundle.export(central.engine, registry(), folder, enr.scope, hub_instance,
                             key=key)

    genuine = export("genuine", fleet.central_key(central_dir))
    verify = hubside.bundle_verifier(enr)
    refusals = []
    # a byte changed in the frames, in the header, or the signature cut off
    for i, offset in enumerate((-100, 12)):
        raw = bytearray(genuine.read_bytes())
        raw[offset] ^= 0x01
        changed = tmp_path / f"changed{i}.ardsync"
        changed.write_bytes(bytes(raw))
        with pytest.raises((signing.BadSignature, Forbidden, ValueError)) as err:
            bundle.import_file(hub_side.engine, registry(), changed, verify=verify)
        refusals.append(err.value)
    assert "signature is wrong" in refusals[0].render("en")  # type: ignore[union-attr]
    unsigned = export("unsigned", None)
    with pytest.raises(signing.BadSignature, match="not signed by this hub's central"):
        bundle.import_file(hub_side.engine, registry(), unsigned, verify=verify)
    forged = export("forged", Ed25519PrivateKey.generate())  # another key, same sender
    with pytest.raises(signing.BadSignature, match="signature is wrong"):
        bundle.import_file(hub_side.engine, registry(), forged, verify=verify)
    assert _events(hub_side.sessions) == 0  # nothing of any refused bundle applied
    done = bundle.import_file(hub_side.engine, registry(), genuine, verify=verify)
    assert done.stats.rows >= 1 and _events(hub_side.sessions) == 1
    again = bundle.import_file(hub_side.engine, registry(), genuine, verify=verify)
    assert again.duplicates == again.frames and _events(hub_side.sessions) == 1


def test_a_hub_that_does_not_know_the_key_says_what_to_do(central: Central,
                                                          hub_side: HubSide,
                                                          tmp_path: Path) -> None:
    world = make_world(central.app, n_students=1)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    central_dir = Path(central.app.extensions["ardoise.settings"].data_dir)
    path = bundle.export(central.engine, registry(), tmp_path, enr.scope, None,
                         key=fleet.central_key(central_dir))
    blind = hubside.Enrollment(enr.hub_id, enr.central_url, enr.central_instance, enr.scope,
                               enr.school_id, None)
    with pytest.raises(Forbidden, match="enroll it again"):
        bundle.import_file(hub_side.engine, registry(), path,
                           verify=hubside.bundle_verifier(blind))
    with pytest.raises(Forbidden, match="does not come from this hub's central"):
        bundle.import_file(hub_side.engine, registry(), path,
                           verify=hubside.bundle_verifier(None))
