"""Assembling an image without loop devices, and reading it back (debugfs, mtools)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from image_builder import inspect, outputs, partitions

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")
            for t in ("sfdisk", "mkfs.vfat", "mcopy", "mkfs.ext4", "debugfs")),
    reason="needs fdisk, dosfstools, mtools, e2fsprogs (script/bootstrap --tests)")


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path, Path]:
    boot, root, data = tmp_path / "boot", tmp_path / "root", tmp_path / "data"
    (boot / "overlays").mkdir(parents=True)
    (boot / "config.txt").write_text("arm_64bit=1\n")
    (boot / "overlays/x.dtbo").write_bytes(b"\x00dtbo")
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("ardoise\n")
    (root / "etc/shadow").write_text("root:*:1::::::\n")
    (root / "etc/shadow").chmod(0o640)
    data.mkdir()
    (data / "README").write_text("data\n")
    return boot, root, data


def test_assemble_and_read_back(tmp_path: Path, trees: tuple[Path, Path, Path]) -> None:
    boot, root, data = trees
    layout = partitions.plan(256, root, 8, data, 64)
    image = tmp_path / "out/test.img"
    image.parent.mkdir()
    partitions.assemble(image, layout, boot, root, data, tmp_path / "work")
    assert image.stat().st_size == layout.total_mib * partitions.MIB
    assert not list(image.parent.glob("*.part"))
    parts = inspect.partitions(image)
    assert [(p.type, p.start // partitions.MIB) for p in parts] == [
        ("c", 4), ("83", layout.root_start_mib), ("83", layout.data_start_mib)]
    assert inspect.fat_read(image, "config.txt") == b"arm_64bit=1\n"
    assert inspect.fat_read(image, "overlays/x.dtbo") == b"\x00dtbo"
    assert inspect.ext4_read(image, 2, "/etc/hostname") == b"ardoise\n"
    assert "Mode:  0640" in inspect.ext4_stat(image, 2, "/etc/shadow")
    assert inspect.ext4_read(image, 3, "/README") == b"data\n"
    assert inspect.ext4_read(image, 3, "/absent") is None
    # a technician edits the settings file from a laptop
    inspect.fat_write(image, "ardoise.toml", b'[school]\nname = "X"\n')
    assert "ardoise.toml" in inspect.fat_list(image)
    # the file systems are clean
    import subprocess

    for p in parts[1:]:
        subprocess.run([shutil.which("e2fsck", path="/usr/sbin:/sbin") or "e2fsck", "-fn",
                        f"{image}?offset={p.start}"], check=True, capture_output=True)


def test_failed_assembly_leaves_no_image(tmp_path: Path,
                                         trees: tuple[Path, Path, Path]) -> None:
    boot, root, data = trees
    tiny = partitions.Layout(boot_mib=256, root_mib=4, data_mib=64)  # root cannot fit
    (root / "big").write_bytes(b"x" * 8 * partitions.MIB)
    image = tmp_path / "x.img"
    from image_builder.errors import BuildFailed

    with pytest.raises(BuildFailed):
        partitions.assemble(image, tiny, boot, root, data, tmp_path / "work")
    assert not image.exists() and not (tmp_path / "x.img.part").exists()


def test_outputs(tmp_path: Path, trees: tuple[Path, Path, Path]) -> None:
    boot, root, data = trees
    image = tmp_path / "ardoise-hub-0.1.0.img"
    partitions.assemble(image, partitions.plan(64, root, 0, data, 32), boot, root, data,
                        tmp_path / "work")
    packed = outputs.compress(image, "zstd")
    assert packed.name == "ardoise-hub-0.1.0.img.zst"
    sums = outputs.write_sums([image, packed])
    assert sums.read_text().splitlines()[0] == f"{outputs.sha256(image)}  {image.name}"
    entry = outputs.imager_entry(image, packed, "ardoise-hub", "0.1.0", "Hub",
                                 "https://images.example.org/ardoise/")
    assert entry["url"] == "https://images.example.org/ardoise/ardoise-hub-0.1.0.img.zst"
    assert entry["extract_size"] == image.stat().st_size
    listing = json.loads(outputs.write_imager_list(tmp_path, entry).read_text())
    assert listing["os_list"][0]["extract_sha256"] == outputs.sha256(image)
    if shutil.which("bmaptool"):
        bmap = outputs.bmap(image)
        assert bmap is not None and "<BlockMap>" in bmap.read_text()
