from pathlib import Path

import pytest

from ardoise.errors import SettingsError
from ardoise.settings import SETTINGS, load_settings


def test_defaults_without_file() -> None:
    s = load_settings(env={}, read_default_file=False)
    assert s.role == "hub"
    assert s.port == 8000
    assert s.source("port") == "default"


def test_file_then_env_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "a.toml"
    f.write_text('port = 9000\nlanguage = "en"\nrole = "central"\n')
    s = load_settings(f, env={"ARDOISE_PORT": "9100"}, overrides={"role": "hub"})
    assert (s.port, s.source("port")) == (9100, "ARDOISE_PORT")
    assert (s.language, s.source("language")) == ("en", str(f))
    assert (s.role, s.source("role")) == ("hub", "overrides")


@pytest.mark.parametrize(("content", "needle"), [
    ("port = 'abc'", "port"),
    ("nonsense = 1", "nonsense"),
    ("role = 'school'", "hub, central"),
    ("port = 0", "at least 1"),
    ("port = [", "not valid TOML"),
])
def test_bad_file_names_the_key(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(content)
    with pytest.raises(SettingsError) as err:
        load_settings(f, env={})
    assert needle in err.value.render("en")


def test_bad_env_is_refused_in_french() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env={"ARDOISE_SECURE_COOKIES": "peut-être"}, read_default_file=False)
    assert "ARDOISE_SECURE_COOKIES" in err.value.render("fr_CA")
    assert "réglage" in err.value.render("fr_CA").lower()


def test_unknown_env_variable_is_refused() -> None:
    with pytest.raises(SettingsError, match="ARDOISE_PROT"):
        load_settings(env={"ARDOISE_PROT": "1"}, read_default_file=False)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_every_setting_has_help() -> None:
    for s in SETTINGS:
        assert len(s.help) > 20, s.name
        assert s.env == "ARDOISE_" + s.name.upper()
