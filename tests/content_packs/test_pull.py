"""Pulling packs from a real rsync daemon on loopback: full pull, delta pull of a new
version, a cut then a resume, a bandwidth cap, tampering and forgery refused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ardoise.errors import Conflict
from content_packs.errors import FileDamaged, PackRefused, TransferFailed
from content_packs.pull import PullProgress, pull_pack, scan
from content_packs.rsync import TransferOptions
from content_packs.sources import RsyncSource
from tests.content_packs.keys import Publisher
from tests.content_packs.packs import (
    installed_state,
    next_version,
    publish,
    signed_pack,
    version_two_files,
)
from tests.content_packs.packs import (
    tree as data_tree,
)
from tests.content_packs.rsyncd import Daemon, when_staged

FAST = TransferOptions(connect_timeout=5, io_timeout=10)


def _pull(session: Session, data_dir: Path, daemon: Daemon, publisher: Publisher,
          version: str | None = None, **kwargs: object) -> object:
    options = kwargs.pop("options", FAST)
    return pull_pack(session, data_dir, RsyncSource(daemon.url), "essai", version,
                     trust=publisher.trust, options=options, **kwargs)  # type: ignore[arg-type]


def test_full_pull_then_a_delta_pull_of_a_new_version(
        tmp_path: Path, data_dir: Path, session: Session, tree: Path, daemon: Daemon,
        publisher: Publisher) -> None:
    v1 = signed_pack(tmp_path / "v1", publisher)
    publish(tree, v1, publisher)
    seen: list[PullProgress] = []
    first = _pull(session, data_dir, daemon, publisher, progress=seen.append)
    assert (first.pack.pack_id, first.pack.version) == ("essai", "1.0.0")
    assert installed_state(session, data_dir) == ("1.0.0", "1.0.0")
    size = first.pack.total_bytes
    # Media travel as they are (compressing them would only cost the Pi), text compressed.
    media = 100_000 + 20_000
    assert media <= first.stats.bytes_received <= size * 1.05 + 4096
    phases = [p.phase for p in seen]
    assert phases[0] == "index" and phases[-1] == "done" and "verify" in phases
    installed = data_dir / "packs" / "essai" / "1.0.0"
    assert (installed / "manifest.json").is_file() and (installed / "manifest.sig").is_file()

    publish(tree, next_version(v1, tmp_path / "v2", publisher), publisher)
    second = _pull(session, data_dir, daemon, publisher)
    assert second.pack.version == "2.0.0"
    assert installed_state(session, data_dir) == ("2.0.0", "2.0.0")
    # Only the changed lesson, the new one and the manifest travelled.
    assert second.stats.bytes_received < 12_000, second.stats
    new = data_dir / "packs" / "essai" / "2.0.0"
    # Unchanged files are the installed ones, hard linked: no room taken twice.
    assert (new / "videos/film.mp4").stat().st_ino == (installed / "videos/film.mp4").stat(
    ).st_ino
    assert (new / "lecons/ecole.html").read_text(encoding="utf-8").count("grande école") == 1
    assert not (data_dir / "staging").exists() or not any((data_dir / "staging").iterdir())
    with pytest.raises(Conflict, match="already installed"):
        _pull(session, data_dir, daemon, publisher)


def test_the_index_lists_every_published_version(tmp_path: Path, data_dir: Path, tree: Path,
                                                 daemon: Daemon, publisher: Publisher) -> None:
    publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    publish(tree, signed_pack(tmp_path / "v2", publisher, version="2.0.0"), publisher)
    catalogue = scan(RsyncSource(daemon.url), data_dir, publisher.trust, FAST)
    assert [(o.pack_id, o.version) for o in catalogue.offers] == [
        ("essai", "1.0.0"), ("essai", "2.0.0")]
    assert catalogue.find("essai").version == "2.0.0"  # type: ignore[union-attr]


def test_a_cut_mid_transfer_resumes_without_sending_again(
        tmp_path: Path, data_dir: Path, session: Session, tree: Path, daemon: Daemon,
        publisher: Publisher) -> None:
    big = os.urandom(400_000)
    folder = signed_pack(tmp_path / "v1", publisher, files={"videos/long.mp4": big},
                         resources=[{"id": "long", "kind": "video", "entry": "videos/long.mp4",
                                     "title": {"fr": "Long", "en": "Long"}}])
    publish(tree, folder, publisher)
    stage = data_dir / "staging" / "pull-essai@1.0.0"
    cuts: list[int] = []
    watcher = when_staged(stage, 150_000, lambda: cuts.append(daemon.cut()))
    slow = TransferOptions(bwlimit_kbps=1600, connect_timeout=5, io_timeout=10)
    try:
        with pytest.raises(TransferFailed) as err:
            _pull(session, data_dir, daemon, publisher, options=slow)
    finally:
        watcher.join()
    assert cuts and cuts[0] >= 1
    assert "kept" in err.value.render("en")
    assert installed_state(session, data_dir) == (None, None)
    assert stage.is_dir()  # what arrived is kept for the next attempt

    resumed = _pull(session, data_dir, daemon, publisher)
    assert resumed.resumed_bytes >= 150_000
    assert resumed.stats.bytes_received < 400_000 - 100_000, resumed.stats
    assert installed_state(session, data_dir) == ("1.0.0", "1.0.0")
    assert not stage.exists()


def test_the_bandwidth_cap_is_respected(tmp_path: Path, data_dir: Path, session: Session,
                                        tree: Path, daemon: Daemon,
                                        publisher: Publisher) -> None:
    """The cap can only make a transfer slower, so this bound does not depend on the
    machine: at 256 kbit/s, 96 kB cannot arrive in less than 3 s (-20%: 2.4 s)."""
    folder = signed_pack(tmp_path / "v1", publisher,
                         files={"audio/son.mp3": os.urandom(96_000)},
                         resources=[{"id": "son", "kind": "audio", "entry": "audio/son.mp3",
                                     "title": {"fr": "Son", "en": "Sound"}}])
    publish(tree, folder, publisher)
    stamps: list[tuple[float, int]] = []

    def sample(p: PullProgress) -> None:
        if p.phase == "download":
            stamps.append((time.monotonic(), p.done))

    capped = TransferOptions(bwlimit_kbps=256, connect_timeout=5, io_timeout=10)
    result = _pull(session, data_dir, daemon, publisher, options=capped, progress=sample)
    received = result.stats.bytes_received
    assert received >= 96_000
    rate_kbps = received * 8 / 1000 / result.stats.seconds
    assert rate_kbps <= 256 * 1.2, rate_kbps


def test_a_tampered_file_is_refused_and_the_installed_version_stays(
        tmp_path: Path, data_dir: Path, session: Session, tree: Path, daemon: Daemon,
        publisher: Publisher) -> None:
    publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    _pull(session, data_dir, daemon, publisher)
    published = publish(tree, signed_pack(tmp_path / "v2", publisher, version="2.0.0",
                                          files=version_two_files()), publisher)
    lesson = published / "lecons" / "fleuve.html"
    stat = lesson.stat()
    lesson.write_bytes(lesson.read_bytes().replace(b"fleuve", b"FLEUVE"))  # same size
    os.utime(lesson, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    with pytest.raises(FileDamaged) as err:
        _pull(session, data_dir, daemon, publisher)
    message = err.value.render("en")
    assert "essai" in message and "lecons/fleuve.html" in message and "SHA-256" in message
    assert installed_state(session, data_dir) == ("1.0.0", "1.0.0")
    assert not (data_dir / "staging" / "pull-essai@2.0.0").exists()


def test_an_extra_file_at_the_source_is_refused(tmp_path: Path, data_dir: Path,
                                                session: Session, tree: Path, daemon: Daemon,
                                                publisher: Publisher) -> None:
    published = publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    (published / "lecons" / "intrus.js").write_text("steal()")
    with pytest.raises(PackRefused, match=r"lecons/intrus\.js is not listed"):
        _pull(session, data_dir, daemon, publisher)
    assert installed_state(session, data_dir) == (None, None)
    assert data_tree(data_dir) == {}


def test_a_pack_signed_by_an_unknown_key_is_refused(
        tmp_path: Path, data_dir: Path, session: Session, tree: Path, daemon: Daemon,
        publisher: Publisher, forger: Publisher) -> None:
    # The forger publishes a tree (index signed by the trusted key, as a central would)
    # holding a pack that only the forger signed.
    publish(tree, signed_pack(tmp_path / "v1", forger), forger)
    from content_packs.publish import write_index

    write_index(tree, publisher.key)
    with pytest.raises(PackRefused) as err:
        _pull(session, data_dir, daemon, publisher)
    message = err.value.render("en")
    assert "essai" in message and "manifest.sig" in message and "does not trust" in message
    assert data_tree(data_dir) == {}


def test_a_forged_manifest_is_refused(tmp_path: Path, data_dir: Path, session: Session,
                                      tree: Path, daemon: Daemon, publisher: Publisher) -> None:
    published = publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    # Someone with write access to the mirror swaps a file and fixes the manifest's hash,
    # then rewrites the index (signed by the central): the publisher's signature breaks.
    manifest = published / "manifest.json"
    doc = manifest.read_text(encoding="utf-8").replace('"publisher": "École d\'essai"',
                                                       '"publisher": "Quelqu\'un"')
    manifest.write_text(doc, encoding="utf-8")
    from content_packs.publish import write_index

    write_index(tree, publisher.key)
    with pytest.raises(PackRefused, match=r"signature in manifest\.sig does not match"):
        _pull(session, data_dir, daemon, publisher)
    assert data_tree(data_dir) == {}


def test_an_index_signed_by_an_unknown_key_is_refused(
        tmp_path: Path, data_dir: Path, session: Session, tree: Path, daemon: Daemon,
        publisher: Publisher, forger: Publisher) -> None:
    publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    from content_packs.publish import write_index

    write_index(tree, forger.key)
    with pytest.raises(PackRefused, match=r"index\.sig"):
        _pull(session, data_dir, daemon, publisher)


def test_an_unreachable_source_is_refused_and_leaves_nothing(
        data_dir: Path, session: Session, publisher: Publisher) -> None:
    from tests.content_packs.rsyncd import free_port

    source = RsyncSource(f"rsync://127.0.0.1:{free_port()}/packs")
    with pytest.raises(TransferFailed) as err:
        pull_pack(session, data_dir, source, "essai", trust=publisher.trust, options=FAST)
    assert "Cannot reach the pack source" in err.value.render("en")
    assert data_tree(data_dir) == {}


def test_a_source_answering_garbage_is_refused(data_dir: Path, session: Session,
                                               publisher: Publisher) -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n<html>not rsync</html>\n")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with pytest.raises(TransferFailed) as err:
            pull_pack(session, data_dir, RsyncSource(f"rsync://127.0.0.1:{port}/packs"),
                      "essai", trust=publisher.trust, options=FAST)
    finally:
        thread.join(timeout=5)
        server.close()
    message = err.value.render("en")
    assert f"127.0.0.1:{port}" in message and "HTTP/1.1 200 OK" in message
    assert data_tree(data_dir) == {}


def test_a_missing_pack_at_the_source_names_it(tmp_path: Path, data_dir: Path,
                                               session: Session, tree: Path, daemon: Daemon,
                                               publisher: Publisher) -> None:
    publish(tree, signed_pack(tmp_path / "v1", publisher), publisher)
    with pytest.raises(LookupError, match="offers no pack autre"):
        pull_pack(session, data_dir, RsyncSource(daemon.url), "autre", trust=publisher.trust,
                  options=FAST)
