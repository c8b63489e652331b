"""`ardoise pack install | list | remove | reindex` as a technician uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from content_packs import Resource, check_filters, find_resources
from hub.cli import main
from tests.content_packs.packs import build_pack


@pytest.fixture
def config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "ardoise.toml"
    path.write_text(f'data_dir = "{data_dir}"\n')
    return path


def run(config: Path, *args: str, lang: str = "en_US.UTF-8") -> Result:
    env: dict[str, str | None] = {"LANG": lang, "LC_ALL": None, "LC_MESSAGES": None,
                                  "ARDOISE_LANGUAGE": None}
    return CliRunner().invoke(main, ["--config", str(config), "pack", *args], env=env)


def test_install_list_remove(tmp_path: Path, config: Path, data_dir: Path) -> None:
    folder = build_pack(tmp_path)
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


def test_a_bad_pack_is_refused_with_a_readable_message(tmp_path: Path, config: Path) -> None:
    folder = build_pack(tmp_path)
    (folder / "lecons" / "intrus.html").write_text("<p>?</p>")
    result = run(config, "install", str(folder))
    assert result.exit_code == 1
    assert "Pack essai: file lecons/intrus.html is not listed in the manifest." in result.output
    assert "Traceback" not in result.output


def test_messages_in_french(tmp_path: Path, config: Path) -> None:
    folder = build_pack(tmp_path)
    (folder / "audio" / "son.mp3").unlink()
    result = run(config, "install", str(folder), lang="fr_CA.UTF-8")
    assert result.exit_code == 1
    assert "audio/son.mp3" in result.output and "manque" in result.output


def test_the_demo_pack_installs(config: Path, session: Session) -> None:
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
