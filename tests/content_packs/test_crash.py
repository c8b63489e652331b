"""The kill -9 matrix: a pull (and an install from a folder) killed at many moments of
download, verification, switch and indexing leaves the old version or the new one whole,
never a mix; the next run cleans staging and finishes the job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from ardoise.cli import Context
from ardoise.db import make_engine
from content_packs.cli import pack_group
from content_packs.pull import pull_pack
from content_packs.rsync import TransferOptions
from content_packs.sources import RsyncSource
from tests.content_packs.keys import Publisher
from tests.content_packs.packs import installed_state, next_version, publish, signed_pack
from tests.content_packs.rsyncd import Daemon, start_daemon, when_staged

ROOT = Path(__file__).resolve().parents[2]
BIG = 300_000  # the video that changes in version 3: long enough to be cut mid-way


@dataclass
class World:
    base: Path  # a data folder with versions 1 and 2 installed (2 active)
    v3: Path  # version 3's folder, signed
    daemon: Daemon
    public_key: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path,
          publisher: Publisher) -> Iterator[World]:
    root = tmp_path_factory.mktemp("crash")
    tree = root / "tree"
    tree.mkdir()
    v1 = signed_pack(root / "v1", publisher)
    v2 = next_version(v1, root / "v2", publisher)
    v3 = next_version(v2, root / "v3", publisher, "3.0.0", {
        "videos/film.mp4": os.urandom(BIG),
        "lecons/fleuve.html": "<h1>Le fleuve</h1><p>Troisième version.</p>"})
    for folder in (v1, v2, v3):
        publish(tree, folder, publisher)
    daemon = start_daemon(tree, root / "rsyncd")
    base = root / "base"
    base.mkdir()
    shutil.copy(migrated_db, base / "ardoise.db")
    engine = make_engine(f"sqlite:///{base / 'ardoise.db'}")
    options = TransferOptions(connect_timeout=5, io_timeout=10)
    with Session(engine, expire_on_commit=False) as s:
        for version in ("1.0.0", "2.0.0"):
            pull_pack(s, base, RsyncSource(daemon.url), "essai", version,
                      trust=publisher.trust, options=options)
    engine.dispose()
    yield World(base, v3, daemon, publisher.public_path)
    daemon.stop()


def _data(world: World, tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    shutil.copytree(world.base, data, symlinks=True)
    config = tmp_path / "ardoise.toml"
    config.write_text(f'data_dir = "{data}"\npack_trusted_keys = "{world.public_key}"\n'
                      "pack_connect_timeout_seconds = 5\npack_io_timeout_seconds = 10\n"
                      "pack_bandwidth_kbps = 2400\n")
    return data, config


def _state(data: Path) -> tuple[str | None, str | None]:
    engine = make_engine(f"sqlite:///{data / 'ardoise.db'}")
    try:
        with Session(engine) as s:
            state = installed_state(s, data)
            fts = s.execute(text("SELECT count(*) FROM resource_fts")).scalar()
            resources = s.execute(text("SELECT count(*) FROM resource")).scalar()
            assert fts == resources, (fts, resources)
            return state
    finally:
        engine.dispose()


def _run(config: Path, point: str, command: str, target: str, data: Path,
         kill_at: int | None = None) -> int:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.content_packs.crash_driver", str(config), point,
         command, target], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watcher = None
    if kill_at is not None:
        watcher = when_staged(data / "staging" / "pull-essai@3.0.0", kill_at, process.kill)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        if watcher is not None:
            watcher.join()
    assert process.returncode in (0, -9), out.decode(errors="replace")
    return process.returncode


def _next_run(config: Path, command: str, target: str) -> None:
    obj = Context(config, debug=False)
    try:
        args = [command, target] + (["essai"] if command == "install" else [])
        result = CliRunner().invoke(pack_group, args[:2], obj=obj, env={
            "LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None,
            "ARDOISE_LANGUAGE": None})
    finally:
        obj.close()
    assert result.exit_code == 0 or "already installed" in result.output, result.output


def _check_after(data: Path, config: Path, command: str, target: str) -> None:
    before = _state(data)
    assert before[0] in ("2.0.0", "3.0.0") and before[1] in ("2.0.0", "3.0.0"), before
    _next_run(config, command, target)
    assert _state(data) == ("3.0.0", "3.0.0")
    staging = data / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    assert sorted(p.name for p in (data / "packs" / "essai").iterdir()) == [
        "2.0.0", "3.0.0", "current"]


PULL_POINTS = ["manifest", "verify-start", "verify-half", "verify-end", "rename-before",
               "rename-after", "index", "commit-after", "link-swap", "prune"]


@pytest.mark.parametrize("point", PULL_POINTS)
def test_a_pull_killed_at_any_moment(world: World, tmp_path: Path, point: str) -> None:
    data, config = _data(world, tmp_path)
    assert _run(config, point, "pull", world.daemon.url, data) == -9
    _check_after(data, config, "pull", world.daemon.url)


@pytest.mark.parametrize("kill_at", [20_000, 150_000, BIG - 20_000],
                         ids=["download-start", "download-half", "download-end"])
def test_a_pull_killed_during_the_download(world: World, tmp_path: Path,
                                           kill_at: int) -> None:
    data, config = _data(world, tmp_path)
    code = _run(config, "none", "pull", world.daemon.url, data, kill_at=kill_at)
    assert code == -9
    _check_after(data, config, "pull", world.daemon.url)


@pytest.mark.parametrize("point", ["copy-third-file", "verify-half", "rename-after", "index",
                                   "commit-after"])
def test_an_install_from_a_folder_killed_at_any_moment(world: World, tmp_path: Path,
                                                       point: str) -> None:
    data, config = _data(world, tmp_path)
    assert _run(config, point, "install", str(world.v3), data) == -9
    _check_after(data, config, "install", str(world.v3))
