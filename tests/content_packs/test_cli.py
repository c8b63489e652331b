"""`ardoise pack ...` as technicians and publishers use them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.cli import Context
from content_packs import Resource, check_filters, find_resources
from content_packs.cli import pack_group
from tests.content_packs.keys import Publisher
from tests.content_packs.packs import build_pack, next_version, signed_pack
from tests.content_packs.rsyncd import Daemon


@pytest.fixture
def config(tmp_path: Path, data_dir: Path, publisher: Publisher) -> Path:
    path = tmp_path / "ardoise.toml"
    path.write_text(f'data_dir = "{data_dir}"\npack_trusted_keys = "{publisher.public_path}"\n'
                    f'pack_usb_mount_root = "{tmp_path / "media"}"\n'
                    "pack_connect_timeout_seconds = 5\npack_io_timeout_seconds = 10\n")
    return path


def run(config: Path, *args: str, lang: str = "en_US.UTF-8") -> Result:
    """`ardoise --config CONFIG pack ARGS` (the group alone: the database is migrated)."""
    env: dict[str, str | None] = {"LANG": lang, "LC_ALL": None, "LC_MESSAGES": None,
                                  "ARDOISE_LANGUAGE": None}
    obj = Context(config, debug=False)
    try:
        return CliRunner().invoke(pack_group, list(args), obj=obj, env=env)
    finally:
        obj.close()


def test_install_list_remove(tmp_path: Path, config: Path, data_dir: Path,
                             publisher: Publisher) -> None:
    folder = signed_pack(tmp_path, publisher)
    result = run(config, "install", str(folder))
    assert result.exit_code == 0, result.output
    assert "Installed pack essai version 1.0.0: 8 resources." in result.output
    assert (data_dir / "packs" / "essai" / "1.0.0" / "videos" / "film.mp4").is_file()

    again = run(config, "install", str(folder))
    assert again.exit_code == 1
    assert "Pack essai version 1.0.0 is already installed." in again.output
    assert "Traceback" not in again.output and "Copying" not in again.output

    listed = run(config, "list")
    assert listed.exit_code == 0 and "* essai 1.0.0  Test pack" in listed.output
    rows = json.loads(run(config, "list", "--json").output)
    assert rows[0]["id"] == "essai" and rows[0]["active"] is True and rows[0]["files"] == 8

    assert run(config, "reindex").output.strip() == "Search index rebuilt: 8 resources."
    removed = run(config, "remove", "essai", "--yes")
    assert removed.exit_code == 0 and "versions: 1.0.0" in removed.output
    assert "No pack is installed." in run(config, "list").output
    assert not (data_dir / "packs" / "essai").exists()


def test_a_bad_pack_is_refused_with_a_readable_message(tmp_path: Path, config: Path,
                                                       publisher: Publisher) -> None:
    folder = signed_pack(tmp_path, publisher)
    (folder / "lecons" / "intrus.html").write_text("<p>?</p>")
    result = run(config, "install", str(folder))
    assert result.exit_code == 1
    assert "Pack essai: file lecons/intrus.html is not listed in the manifest." in result.output
    assert "Traceback" not in result.output


def test_an_unsigned_pack_is_refused_unless_allowed(tmp_path: Path, config: Path) -> None:
    folder = build_pack(tmp_path)
    result = run(config, "install", str(folder))
    assert result.exit_code == 1
    assert "Pack essai has no signature (manifest.sig is missing)" in result.output
    config.write_text(config.read_text() + "pack_allow_unsigned = true\n")
    assert run(config, "install", str(folder)).exit_code == 0


def test_messages_in_french(tmp_path: Path, config: Path, publisher: Publisher) -> None:
    folder = signed_pack(tmp_path, publisher)
    (folder / "audio" / "son.mp3").unlink()
    result = run(config, "install", str(folder), lang="fr_CA.UTF-8")
    assert result.exit_code == 1
    assert "audio/son.mp3" in result.output and "manque" in result.output


def test_the_demo_pack_installs(config: Path, session: Session) -> None:
    config.write_text(config.read_text() + "pack_allow_unsigned = true\n")
    demo = Path(__file__).resolve().parents[2] / "demo" / "packs" / "decouverte"
    result = run(config, "install", str(demo))
    assert result.exit_code == 0, result.output
    rows = json.loads(run(config, "list", "--json").output)
    assert rows[0]["id"] == "decouverte" and rows[0]["bytes"] < 1_000_000
    kinds = {r.uid: r.kind for r in session.scalars(select(Resource))}
    assert kinds["decouverte/video-cycle-eau"] == "video"
    assert kinds["decouverte/fiche-fractions"] == "pdf"
    assert kinds["decouverte/audio-cycle-eau"] == "audio"
    assert set(kinds.values()) == {"html", "pdf", "image", "audio", "video", "document"}
    english = find_resources(session, filters=check_filters(language="en")).items
    assert {r.uid for r in english} == {"decouverte/colours", "decouverte/water-cycle"}
    assert find_resources(session, "beluga").items[0].uid == "decouverte/animaux-saint-laurent"


def test_a_publisher_makes_keys_builds_signs_verifies_and_publishes(
        tmp_path: Path, config: Path) -> None:
    keys = tmp_path / "keys"
    made = run(config, "keygen", "recit", "--dir", str(keys))
    assert made.exit_code == 0, made.output
    assert (keys / "recit.key").stat().st_mode & 0o777 == 0o600
    assert "fingerprint" in made.output
    assert run(config, "keygen", "recit", "--dir", str(keys)).exit_code == 1  # never overwritten

    folder = tmp_path / "sciences"
    (folder / "lecons").mkdir(parents=True)
    (folder / "lecons" / "eau.html").write_text(
        "<html><head><title>Le cycle de l'eau</title></head><body><p>Eau</p></body></html>")
    (folder / "fiche.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (folder / "donnees.xyz").write_bytes(b"?")
    built = run(config, "build", str(folder), "--id", "sciences", "--version", "1.0.0",
                "--title", "Sciences", "--licence", "CC-BY-SA-4.0", "--publisher", "RÉCIT",
                "--subject", "science-technologie", "--cycle", "primaire-3")
    assert built.exit_code == 0, built.output
    assert "Pack sciences 1.0.0: 2 resources, 3 files" in built.output
    assert "Not classified" in built.output and "donnees.xyz" in built.output

    unsigned = run(config, "verify", str(folder), "--key", str(keys / "recit.pub"))
    assert unsigned.exit_code == 1 and "has no signature" in unsigned.output
    signed = run(config, "sign", str(folder), "--key", str(keys / "recit.key"))
    assert signed.exit_code == 0 and "Signed sciences 1.0.0" in signed.output
    ok = run(config, "verify", str(folder), "--key", str(keys / "recit.pub"))
    assert ok.exit_code == 0, ok.output
    assert "OK: pack sciences version 1.0.0, 3 files" in ok.output
    assert run(config, "verify", str(folder)).exit_code == 1  # not a key this hub trusts

    (folder / "fiche.pdf").write_bytes(b"%PDF-1.4\n%%EOF\nchanged")
    (folder / "lecons" / "eau.html").write_text("<p>autre</p>")
    bad = run(config, "verify", str(folder), "--key", str(keys / "recit.pub"))
    assert bad.exit_code == 1
    assert "fiche.pdf has 22 bytes but the manifest says 15" in bad.output
    assert "lecons/eau.html" in bad.output and "2 problem(s)" in bad.output
    refused = run(config, "sign", str(folder), "--key", str(keys / "recit.key"))
    assert refused.exit_code == 1 and "fiche.pdf" in refused.output


def test_publish_serve_config_pull_rollback_export(
        tmp_path: Path, config: Path, data_dir: Path, publisher: Publisher, tree: Path,
        daemon: Daemon) -> None:
    v1 = signed_pack(tmp_path / "v1", publisher)
    v2 = next_version(v1, tmp_path / "v2", publisher)
    for folder in (v1, v2):
        out = run(config, "publish", str(folder), str(tree), "--key",
                  str(publisher.private_path))
        assert out.exit_code == 0, out.output
    assert json.loads((tree / "index.json").read_text())["packs"][1]["version"] == "2.0.0"
    again = run(config, "publish", str(v1), str(tree), "--key", str(publisher.private_path))
    assert again.exit_code == 1 and "already in" in again.output

    listed = run(config, "pull", daemon.url, "--list")
    assert listed.exit_code == 0, listed.output
    assert "+ essai 1.0.0" in listed.output and "+ essai 2.0.0" in listed.output
    first = run(config, "pull", daemon.url, "essai", "--version", "1.0.0", "--bwlimit", "0")
    assert first.exit_code == 0, first.output
    assert "Installed essai 1.0.0" in first.output
    update = run(config, "pull", daemon.url)
    assert update.exit_code == 0 and "Installed essai 2.0.0" in update.output
    assert "up to date" in run(config, "pull", daemon.url).output

    back = run(config, "rollback", "essai")
    assert back.exit_code == 0 and "back to version 1.0.0" in back.output
    assert os.readlink(data_dir / "packs" / "essai" / "current") == "1.0.0"
    # A rolled-back version stays installed, so an update does not fetch it again.
    assert "up to date" in run(config, "pull", daemon.url).output
    assert run(config, "rollback", "essai", "--to", "2.0.0").exit_code == 0
    missing = run(config, "rollback", "essai", "--to", "9.9")
    assert missing.exit_code == 1 and "Installed versions: 2.0.0, 1.0.0" in missing.output

    stick = tmp_path / "media" / "CLE-USB"
    exported = run(config, "export", "essai", str(stick))
    assert exported.exit_code == 0, exported.output
    copy = stick / "ardoise-packs" / "essai" / "2.0.0"
    assert (copy / "manifest.sig").is_file() and (copy / "videos" / "film.mp4").is_file()
    ok = run(config, "verify", str(copy))
    assert ok.exit_code == 0 and "signed by key" in ok.output
    found = run(config, "usb")
    assert found.exit_code == 0 and "= essai 2.0.0" in found.output
    assert run(config, "verify", "essai").exit_code == 0


def test_pull_refuses_a_source_that_is_not_one(config: Path) -> None:
    for bad in ("ssh-host:/packs", "http://example.org/packs", "rsync://h/"):
        result = run(config, "pull", bad)
        assert result.exit_code == 1 and "is not a pack source address" in result.output


def test_serve_runs_an_rsync_daemon_until_stopped(tmp_path: Path, config: Path,
                                                  publisher: Publisher, tree: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    from tests.content_packs.packs import publish
    from tests.content_packs.rsyncd import free_port

    publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli import main; main()", "--config", str(config),
         "pack", "serve", str(tree), "--address", "127.0.0.1", "--port", str(port),
         "--workdir", str(tmp_path / "rsyncd")], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        listing = subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/packs/essai/"],
                                 capture_output=True, text=True, timeout=15)
        assert listing.returncode == 0 and "1.0.0" in listing.stdout, listing.stderr
        conf = (tmp_path / "rsyncd" / "rsyncd.conf").read_text()
        assert "read only = yes" in conf and f"path = {tree.resolve()}" in conf
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0, out.decode(errors="replace")
