"""The same pull from a folder and from a USB stick (exported by another hub), the agent's
pack task, rollback and the clean-up after a cut."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ardoise import device
from ardoise.errors import Conflict, NotFound, StorageFull
from ardoise.settings import load_settings
from content_packs import install as install_module
from content_packs.errors import FileDamaged, PackRefused
from content_packs.install import install_pack, recover, rollback
from content_packs.publish import export_pack
from content_packs.pull import PullProgress, newer_offers, pull_pack, scan
from content_packs.rsync import TransferOptions
from content_packs.sources import FolderSource, find_usb_sources, open_source
from content_packs.status import queue_install, read_transfer
from content_packs.tasks import agent_tasks
from tests.content_packs.keys import Publisher
from tests.content_packs.packs import installed_state, next_version, signed_pack, tree

LOCAL = TransferOptions(connect_timeout=5, io_timeout=10)


def test_a_usb_stick_from_another_school(tmp_path: Path, data_dir: Path, session: Session,
                                         publisher: Publisher, engine: Engine) -> None:
    # School A installs the pack and exports it to a stick.
    other = tmp_path / "school-a"
    other.mkdir()
    import shutil

    shutil.copy(data_dir / "ardoise.db", other / "ardoise.db")
    from ardoise.db import make_engine

    other_engine = make_engine(f"sqlite:///{other / 'ardoise.db'}")
    with Session(other_engine) as s:
        install_pack(s, other, signed_pack(tmp_path / "src", publisher), trust=publisher.trust)
        export_pack(s, other, "essai", tmp_path / "media" / "CLE")
    other_engine.dispose()

    # School B's hub finds it under the mount root and installs it through the same checks.
    sticks = find_usb_sources(tmp_path / "media")
    assert [s.label for s in sticks] == [str(tmp_path / "media" / "CLE")]
    catalogue = scan(sticks[0], data_dir, publisher.trust, LOCAL)
    assert [(o.pack_id, o.version) for o in catalogue.offers] == [("essai", "1.0.0")]
    assert newer_offers(session, catalogue) == catalogue.offers
    seen: list[PullProgress] = []
    pull_pack(session, data_dir, sticks[0], "essai", trust=publisher.trust, options=LOCAL,
              progress=seen.append, catalogue=catalogue)
    assert installed_state(session, data_dir) == ("1.0.0", "1.0.0")
    assert seen[-1].phase == "done"
    assert newer_offers(session, catalogue) == []


def test_a_damaged_stick_is_refused_naming_the_file(tmp_path: Path, data_dir: Path,
                                                    session: Session,
                                                    publisher: Publisher) -> None:
    folder = signed_pack(tmp_path / "stick", publisher)
    (folder / "documents" / "notes.txt").write_text("Des notes à télécharger?\n")
    with pytest.raises(FileDamaged) as err:
        pull_pack(session, data_dir, FolderSource(folder), "essai", trust=publisher.trust,
                  options=LOCAL)
    assert "documents/notes.txt" in err.value.render("en")
    assert tree(data_dir) == {}


def test_a_symlink_on_a_stick_is_refused(tmp_path: Path, data_dir: Path, session: Session,
                                         publisher: Publisher) -> None:
    folder = signed_pack(tmp_path / "stick", publisher)
    notes = folder / "documents" / "notes.txt"
    notes.unlink()
    notes.symlink_to("/etc/hostname")
    with pytest.raises(PackRefused) as err:
        pull_pack(session, data_dir, FolderSource(folder), "essai", trust=publisher.trust,
                  options=LOCAL)
    assert "documents/notes.txt" in err.value.render("en")
    assert "outside the pack" in err.value.render("en")
    assert tree(data_dir) == {}


def test_an_unreadable_manifest_on_a_stick_is_reported_not_fatal(
        tmp_path: Path, data_dir: Path, publisher: Publisher) -> None:
    good = signed_pack(tmp_path / "CLE" / "ardoise-packs" / "essai", publisher)
    bad = signed_pack(tmp_path / "CLE" / "ardoise-packs" / "autre", publisher, id="autre")
    (bad / "manifest.json").write_bytes(b"\xff\xfe not utf-8")
    catalogue = scan(FolderSource(tmp_path / "CLE"), data_dir, publisher.trust, LOCAL)
    assert [o.location for o in catalogue.offers] == [str(good)]
    assert "not UTF-8" in catalogue.problems[0].render("en")


def test_open_source_takes_rsync_addresses_and_folders(tmp_path: Path) -> None:
    assert open_source("rsync://central.example:8730/packs").label == (
        "rsync://central.example:8730/packs")
    assert isinstance(open_source(str(tmp_path)), FolderSource)
    with pytest.raises(ValueError, match="not a pack source address"):
        open_source("central:/packs")


def test_rollback_and_back_again(tmp_path: Path, data_dir: Path, session: Session,
                                 publisher: Publisher) -> None:
    v1 = signed_pack(tmp_path / "a", publisher)
    install_pack(session, data_dir, v1, trust=publisher.trust)
    with pytest.raises(NotFound, match="no other version"):
        rollback(session, data_dir, "essai")
    install_pack(session, data_dir, next_version(v1, tmp_path / "b", publisher),
                 trust=publisher.trust)
    assert rollback(session, data_dir, "essai").version == "1.0.0"
    assert installed_state(session, data_dir) == ("1.0.0", "1.0.0")
    with pytest.raises(Conflict, match="already the active one"):
        rollback(session, data_dir, "essai", "1.0.0")
    assert rollback(session, data_dir, "essai", "2.0.0").version == "2.0.0"
    assert installed_state(session, data_dir) == ("2.0.0", "2.0.0")
    # A damaged kept version is refused rather than switched to.
    kept = data_dir / "packs" / "essai" / "1.0.0" / "videos" / "film.mp4"
    os.chmod(kept.parent, 0o755)
    kept.write_bytes(kept.read_bytes()[:10])
    with pytest.raises(PackRefused, match=r"film\.mp4"):
        rollback(session, data_dir, "essai")
    assert installed_state(session, data_dir) == ("2.0.0", "2.0.0")


def test_the_disk_too_small_is_said_early_with_sizes(tmp_path: Path, data_dir: Path,
                                                     session: Session, publisher: Publisher,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_module, "_free_bytes", lambda _d: 10 * 1024 * 1024)
    with pytest.raises(StorageFull) as err:
        pull_pack(session, data_dir, FolderSource(signed_pack(tmp_path, publisher)), "essai",
                  trust=publisher.trust, options=LOCAL)
    message = err.value.render("en")
    assert "essai" in message and "65 MB needed" in message and "10 MB free" in message
    assert tree(data_dir) == {}


def test_old_versions_make_room_when_space_is_needed(tmp_path: Path, data_dir: Path,
                                                     session: Session, publisher: Publisher,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = signed_pack(tmp_path / "a", publisher)
    install_pack(session, data_dir, v1, trust=publisher.trust)
    other = signed_pack(tmp_path / "o", publisher, id="autre")
    install_pack(session, data_dir, other, trust=publisher.trust)
    install_pack(session, data_dir, next_version(v1, tmp_path / "b", publisher),
                 trust=publisher.trust)
    free = {"bytes": 10 * 1024 * 1024}

    def fake_free(_d: Path) -> int:
        # Room appears once the version kept for a rollback is gone.
        gone = not (data_dir / "packs" / "essai" / "1.0.0").exists()
        return free["bytes"] + (200 * 1024 * 1024 if gone else 0)

    monkeypatch.setattr(install_module, "_free_bytes", fake_free)
    install_pack(session, data_dir, next_version(other, tmp_path / "c", publisher, "2.0.0"),
                 trust=publisher.trust)
    assert not (data_dir / "packs" / "essai" / "1.0.0").exists()
    assert installed_state(session, data_dir) == ("2.0.0", "2.0.0")
    assert installed_state(session, data_dir, "autre") == ("2.0.0", "2.0.0")


def test_recover_after_cuts(tmp_path: Path, data_dir: Path, session: Session,
                            publisher: Publisher) -> None:
    v1 = signed_pack(tmp_path / "a", publisher)
    install_pack(session, data_dir, v1, trust=publisher.trust)
    staging = data_dir / "staging"
    (staging / "install-essai-x1" / "lecons").mkdir(parents=True)
    (staging / "discard-y" / "old").mkdir(parents=True)
    (staging / "pull-essai@1.0.0").mkdir()  # installed since: useless
    (staging / "pull-essai@0.9").mkdir()  # older than the active version: useless
    (staging / "pull-essai@5.0" / "videos").mkdir(parents=True)  # to resume
    unknown = data_dir / "packs" / "essai" / "4.0"
    unknown.mkdir()
    (unknown / "x.txt").write_text("complete but never committed")
    link = data_dir / "packs" / "essai" / "current"
    link.unlink()
    link.symlink_to("0.1")
    done = recover(session, data_dir)
    assert sorted(p.name for p in staging.iterdir()) == ["pull-essai@4.0", "pull-essai@5.0"]
    assert os.readlink(link) == "1.0.0"
    assert (staging / "pull-essai@4.0" / "x.txt").is_file()
    assert len(done) == 5


def _settings(data_dir: Path, publisher: Publisher, **extra: Any) -> Any:
    return load_settings(overrides={"data_dir": str(data_dir),
                                    "pack_trusted_keys": str(publisher.public_path),
                                    **extra}, env={}, read_default_file=False)


class FakeContext:
    """The agent's TaskContext, as far as the pack task uses it."""

    def __init__(self, settings: Any, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.shown: list[tuple[float | None, str]] = []

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def progress(self, fraction: float | None, label: str = "") -> None:
        self.shown.append((fraction, label))

    def stopping(self) -> bool:
        return False


def test_the_agent_installs_what_was_queued_and_updates_from_the_source(
        tmp_path: Path, data_dir: Path, session: Session, engine: Engine,
        publisher: Publisher) -> None:
    v1 = signed_pack(tmp_path / "stick" / "ardoise-packs" / "essai", publisher)
    source_tree = tmp_path / "central"
    from tests.content_packs.packs import publish

    publish(source_tree, next_version(v1, tmp_path / "v2", publisher), publisher)
    settings = _settings(data_dir, publisher, pack_source=str(source_tree))
    task = agent_tasks(settings)[0]
    assert task.name == "packs" and task.requests == ("packs_now",)
    assert task.interval_seconds == 360 * 60

    queue_install(session, str(v1), "essai", "1.0.0")
    session.commit()
    assert [r.kind for r in device.pending_requests(session)] == ["packs_now"]
    ctx = FakeContext(settings, engine)
    result = task.run(ctx)
    assert result is not None and result["ok"] is True
    assert result["installed"] == ["essai 1.0.0", "essai 2.0.0"]
    assert installed_state(session, data_dir) == ("2.0.0", "2.0.0")
    status = read_transfer(session)
    assert status is not None and status["phase"] == "done" and status["pack"] == "essai"
    assert any(f == 1.0 for f, _label in ctx.shown)
    assert task.run(ctx) is None  # nothing new: nothing to say


def test_the_agent_reports_a_refused_pack(tmp_path: Path, data_dir: Path, session: Session,
                                          engine: Engine, publisher: Publisher,
                                          forger: Publisher) -> None:
    folder = signed_pack(tmp_path / "stick", forger)
    settings = _settings(data_dir, publisher)
    queue_install(session, str(folder), "essai", "1.0.0")
    session.commit()
    result = agent_tasks(settings)[0].run(FakeContext(settings, engine))
    assert result is not None and result["ok"] is False
    assert "ne fait pas confiance" in result["message"] or "does not trust" in result["message"]
    status = read_transfer(session)
    assert status is not None and status["phase"] == "failed"
