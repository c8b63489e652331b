"""build.toml, prerequisites and `ardoise image build --check`."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from image_builder.build_config import BuildConfig, load_build_config
from image_builder.errors import ConfigInvalid, PrerequisiteMissing
from image_builder.pipeline import check
from image_builder.prereq import DiskNeed, require_disk, require_tools, tools_for


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "build.toml"
    path.write_text(text, encoding="utf-8")
    return path


KEY = base64.b64encode(bytes(range(32))).decode()


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "packs/maths").mkdir(parents=True)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/recit-gaspesie.pub").write_text(KEY + "\n")
    config = load_build_config(write(tmp_path, f"""
[image]
name = "ardoise-gaspesie"
compress = "zstd"
[packs]
sources = ["packs/maths", "rsync://mirror.example.org/packs/sciences"]
trusted_keys = ["keys/recit-gaspesie.pub", "eer:{KEY}"]
"""))
    assert config.name == "ardoise-gaspesie" and config.compress == "zstd"
    assert config.boot_mib == 256 and config.bmap is True
    assert config.packs == (str(tmp_path / "packs/maths"),
                            "rsync://mirror.example.org/packs/sciences")
    assert config.trusted_keys == (f"recit-gaspesie:{KEY}", f"eer:{KEY}")


@pytest.mark.parametrize(("text", "key", "fragment"), [
    ('[image]\nname = "Mon Image"', "image.name", "lowercase"),
    ('[image]\nsuite = "trixie"', "image.suite", "bookworm"),
    ('[image]\nboot_mib = 16', "image.boot_mib", "between 64"),
    ('[image]\ncompress = "gzip"', "image.compress", "xz, zstd, none"),
    ('[image]\nbmap = "yes"', "image.bmap", "true or false"),
    ('[image]\nmirror = "deb.example.org"', "image.mirror", "URL"),
    ('[image]\nextra_packages = ["Vim!"]', "image.extra_packages[1]", "Debian package"),
    ('[hub]\nwheel = "missing.whl"', "hub.wheel", "does not exist"),
    ('[packs]\nsources = ["nowhere"]', "packs.sources[1]", "rsync://"),
    ('[imager]\nurl = "ftp://x"', "imager.url", "http(s)"),
    ('[packs]\ntrusted_keys = ["absent.pub"]', "packs.trusted_keys[1]", "publisher key"),
    ('[packs]\nsources = ["rsync://m.example.org/p"]', "packs.trusted_keys",
     "verified before"),
    ('[image]\nsize = 3', "image.size", "Unknown key"),
    ('image = 3', "image", "section"),
])
def test_each_invalid_field_is_named(tmp_path: Path, text: str, key: str,
                                     fragment: str) -> None:
    with pytest.raises(ConfigInvalid) as err:
        load_build_config(write(tmp_path, text))
    assert [p.key for p in err.value.problems] == [key]
    assert fragment in err.value.render("en")
    assert err.value.render("fr_CA") != err.value.render("en")


def test_all_problems_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as err:
        load_build_config(write(tmp_path, '[image]\nname = "X"\ncompress = "rar"\n'
                                          'boot_mib = "256"\n'))
    text = err.value.render("en")
    assert text.startswith("build.toml has 3 problem(s):")
    assert "image.name" in text and "image.compress" in text and "image.boot_mib" in text


def test_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as err:
        load_build_config(write(tmp_path, "[image\n"))
    assert "not valid TOML" in err.value.render("en")


def test_missing_tools_name_the_debian_packages() -> None:
    have = {"sfdisk", "mkfs.ext4", "debugfs", "e2fsck", "xz"}
    with pytest.raises(PrerequisiteMissing) as err:
        require_tools(tools_for(BuildConfig(), machine="x86_64"),
                      lambda t: f"/usr/bin/{t}" if t in have else None)
    text = err.value.render("en")
    assert "apt-get install binfmt-support bmap-tools dosfstools mmdebstrap mtools " \
           "qemu-user-static" in text
    # on an arm64 build machine no emulation is needed
    assert "qemu-aarch64-static" not in tools_for(BuildConfig(), machine="aarch64")


def test_not_enough_disk_is_refused_with_the_sizes(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as err:
        require_disk([DiskNeed(tmp_path / "out", 3000), DiskNeed(tmp_path / "cache", 2000)],
                     lambda p: 1024 * 1024 * 1024)
    text = err.value.render("en")
    assert "needs about 5000 MiB and 1024 MiB are free" in text
    assert "Pas assez d'espace disque" in err.value.render("fr_CA")
    require_disk([DiskNeed(tmp_path, 10)], lambda p: 1024 ** 3)  # enough: no error


def test_check_refuses_before_starting(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing):
        check(BuildConfig(), tmp_path / "out", tmp_path / "cache", which=lambda t: "/bin/x",
              free_bytes=lambda p: 0)
    assert not (tmp_path / "out").exists()


def test_cli_check_lists_problems(tmp_path: Path) -> None:
    path = write(tmp_path, '[image]\ncompress = "rar"\nbmap = 1\n')
    result = CliRunner().invoke(main, ["image", "build", "--config", str(path), "--check"],
                                env={"ARDOISE_LANGUAGE": "en"})
    assert result.exit_code == 1
    assert "image.compress" in result.output and "image.bmap" in result.output
    result = CliRunner().invoke(main, ["image", "build", "--config", str(path), "--check"],
                                env={"ARDOISE_LANGUAGE": "fr_CA"})
    assert "2 problème(s)" in result.output


def test_cli_check_settings(tmp_path: Path) -> None:
    card = tmp_path / "ardoise.toml"
    card.write_text('[school]\nname = "École"\nhub_name = "hub-1"\n[wifi]\ncountry = "CA"\n',
                    encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["image", "check-settings", str(card)])
    assert ok.exit_code == 0 and "ok" in ok.output
    card.write_text('[school]\nname = "École"\n[wifi]\ncountry = "Québec"\n', encoding="utf-8")
    bad = runner.invoke(main, ["image", "check-settings", str(card)],
                        env={"ARDOISE_LANGUAGE": "en"})
    assert bad.exit_code == 1
    assert "school.hub_name: Missing" in bad.output and "wifi.country" in bad.output


def test_the_example_in_the_docs_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "build.example.toml"
    config = load_build_config(example)
    assert config.compress == "zstd" and config.name == "ardoise-hub"
