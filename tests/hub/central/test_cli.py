"""`ardoise sync ...` on a hub and on the central: token, enroll, now, status, USB
bundles both ways (signed by the hub, checked by the central), revoke."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from hub.cli import main
from hub.models import ProgressEvent, ProgressKind
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide


def _run(args: list[str], data_dir: Path, **env: str) -> str:
    result = CliRunner().invoke(main, args, env={
        "ARDOISE_DATA_DIR": str(data_dir), "ARDOISE_LANGUAGE": "en", **env},
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_round_trip_and_usb_bundles(central: Central, hub_side: HubSide,
                                        tmp_path: Path) -> None:
    world = make_world(central.app, n_students=1)
    central_dir = Path(central.app.extensions["ardoise.settings"].data_dir)
    as_central = {"ARDOISE_ROLE": "central"}
    out = _run(["sync", "token", world.school.code, "--note", "Pi 5e"], central_dir,
               **as_central)
    token = re.search(r": (\S+)$", out.strip()).group(1)  # type: ignore[union-attr]
    out = _run(["sync", "enroll", central.url, token], hub_side.data_dir)
    assert "Enrolled" in out
    assert "0 rows sent" in _run(["sync", "now"], hub_side.data_dir)
    status = json.loads(_run(["sync", "status", "--json"], hub_side.data_dir))
    assert status["enrolled"] and status["last_error"] == "" and status["missing_files"] == []
    # no link: the same data by USB stick, both ways
    with hub_side.sessions() as s:
        s.add(ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                            user_id=world.students[0].id, resource_uid="usb/1",
                            kind=ProgressKind.FINISHED))
        s.commit()
    stick = tmp_path / "stick"
    stick.mkdir()
    _run(["sync", "export", str(stick)], hub_side.data_dir)
    bundle = next(stick.glob("*.ardsync"))
    assert "1 rows" in _run(["sync", "import", str(bundle)], central_dir, **as_central)
    assert "already applied" in _run(["sync", "import", str(bundle)], central_dir,
                                     **as_central)
    with central.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProgressEvent)) == 1
    # a changed bundle is refused by the central, nothing applied
    damaged = tmp_path / "damaged.ardsync"
    raw = bytearray(bundle.read_bytes())
    raw[-70] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    result = CliRunner().invoke(main, ["sync", "import", str(damaged)], env={
        "ARDOISE_DATA_DIR": str(central_dir), "ARDOISE_LANGUAGE": "en", **as_central})
    assert result.exit_code != 0 and "signature" in result.output
    # the central's bundle for that hub carries back what the hub lacks
    with central.sessions() as s:
        s.add(ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                            user_id=world.students[0].id, resource_uid="usb/2",
                            kind=ProgressKind.OPENED))
        s.commit()
    hub_id = status["hub_id"]
    back = tmp_path / "back"
    back.mkdir()
    _run(["sync", "export", str(back), "--hub", hub_id], central_dir, **as_central)
    from_central = next(back.glob("*.ardsync"))
    # signed by the central: a changed copy is refused by the hub, nothing applied
    raw = bytearray(from_central.read_bytes())
    raw[-70] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    result = CliRunner().invoke(main, ["sync", "import", str(damaged)], env={
        "ARDOISE_DATA_DIR": str(hub_side.data_dir), "ARDOISE_LANGUAGE": "en"})
    assert result.exit_code != 0 and "signature is wrong" in result.output
    _run(["sync", "import", str(from_central)], hub_side.data_dir)
    with hub_side.sessions() as s:
        uids = set(s.scalars(select(ProgressEvent.resource_uid)))
    assert uids == {"usb/1", "usb/2"}
    assert "revoked" in _run(["sync", "revoke", hub_id], central_dir, **as_central)
    result = CliRunner().invoke(main, ["sync", "now"], env={
        "ARDOISE_DATA_DIR": str(hub_side.data_dir), "ARDOISE_LANGUAGE": "en"})
    assert result.exit_code != 0 and "The central refused the sync" in result.output
