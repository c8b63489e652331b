"""Settings, declared once.

Each `Setting` has a name, a default and a help text; that one declaration drives the
defaults, type checks, the TOML file (`/etc/ardoise/ardoise.toml` or `--config`), the
`ARDOISE_<NAME>` environment overrides, `ardoise config list` and `docs/settings.md`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ardoise.errors import SettingsError
from ardoise.i18n import N_

DEFAULT_CONFIG_FILE = Path("/etc/ardoise/ardoise.toml")
ENV_PREFIX = "ARDOISE_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: type = str
    choices: tuple[str, ...] = ()
    secret: bool = False
    minimum: float | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    # -- the instance
    Setting("role", "hub", "Which side this instance plays: a classroom hub or the central "
            "server of the school service centre.", choices=("hub", "central")),
    Setting("data_dir", "/var/lib/ardoise", "Folder holding the database, installed packs, "
            "student uploads and staging. Survives updates.", type=Path),
    Setting("database_url", "", "SQLAlchemy URL of the database. Empty: SQLite file "
            "ardoise.db in data_dir (WAL mode). Use postgresql+psycopg://... for the central "
            "at scale."),
    Setting("secret_key", "", "Key that signs session cookies. Empty: a random key is "
            "generated once per device and kept in data_dir/secret_key.", secret=True),
    Setting("language", "fr_CA", "Default language of pages and messages.",
            choices=("fr_CA", "en")),
    Setting("timezone", "America/Toronto", "Time zone used to show dates."),
    # -- web process
    Setting("host", "127.0.0.1", "Address the web process listens on (nginx proxies to it)."),
    Setting("port", 8000, "Port the web process listens on.", type=int, minimum=1),
    Setting("threads", 8, "Worker threads of the web process.", type=int, minimum=1),
    Setting("secure_cookies", False, "Send session cookies only over HTTPS. Turn on when the "
            "site is served over HTTPS (the central); the classroom hub is plain HTTP on its "
            "own Wi-Fi.", type=bool),
    Setting("session_hours", 12, "How long a sign-in lasts, in hours.", type=int, minimum=1),
    # -- sign-in
    Setting("login_attempts", 5, "Failed sign-in attempts allowed per account within "
            "login_window_seconds before further attempts are refused.",
            type=int, minimum=1),
    Setting("login_attempts_per_address", 20, "Failed sign-in attempts allowed per device "
            "address within login_window_seconds. Higher than per account because several "
            "students share a tablet.",
            type=int, minimum=1),
    Setting("login_window_seconds", 300, "Window for counting failed sign-in attempts.",
            type=int, minimum=1),
    # -- student work
    Setting("upload_max_mb", 25, "Largest file a student may hand in, in MB.", type=int,
            minimum=1),
    Setting("upload_max_files", 5, "Most files in one hand-in; with upload_max_mb it bounds "
            "the size of a request.", type=int, minimum=1),
    # -- device: lights, button, status (see docs/status-lights.md)
    Setting("hw_enabled", True, "Drive the status lights, the button and the buzzer on GPIO. "
            "On a machine without GPIO the agent runs without them and says so once.",
            type=bool),
    Setting("hw_led_green_pin", "GPIO17", "Pin of the green light (serving), in gpiozero's "
            "names: GPIO17, BOARD11, J8:11. Empty: no green light."),
    Setting("hw_led_yellow_pin", "GPIO27", "Pin of the yellow light (syncing or updating). "
            "Empty: no yellow light."),
    Setting("hw_led_red_pin", "GPIO22", "Pin of the red light (needs attention, with blink "
            "codes). Empty: no red light."),
    Setting("hw_button_pin", "GPIO23", "Pin of the push button, wired to ground (the internal "
            "pull-up is used). Empty: no button."),
    Setting("hw_buzzer_pin", "", "Pin of an optional active buzzer that beeps when the button "
            "is acknowledged. Empty: no buzzer."),
    Setting("hw_hold_shutdown_seconds", 3, "Hold the button this long, then release, to shut "
            "the hub down safely.", type=int, minimum=1),
    Setting("hw_hold_restore_seconds", 10, "Hold the button this long while the hub starts to "
            "restore the network settings; during normal operation, holding this long "
            "cancels a shutdown.", type=int, minimum=2),
    Setting("hw_shutdown_command", "systemctl poweroff", "Command the agent runs for a safe "
            "shutdown (button held)."),
    Setting("hw_restore_network_command", "/usr/lib/ardoise/restore-network", "Command the "
            "agent runs to restore the network settings (button held at start)."),
    Setting("agent_task_timeout_minutes", 240, "The agent stops a task (a sync, a pack "
            "download) still running after this many minutes; the next run resumes where it "
            "stopped.", type=int, minimum=1),
    Setting("status_interval_seconds", 30, "How often the agent samples the device status and "
            "updates the lights.", type=int, minimum=1),
    Setting("status_write_seconds", 900, "At most how often the agent writes its unchanged "
            "status to the database (changes are written at once); spares the SD card.",
            type=int, minimum=10),
    Setting("status_sync_stale_hours", 72, "After this many hours without a successful sync "
            "the red light asks for attention.", type=int, minimum=1),
    Setting("status_temp_warning_c", 80, "CPU temperature (°C) from which the red light says "
            "the hub is too hot.", type=int, minimum=30),
    Setting("status_disk_min_free_mb", 500, "Free space on the data partition (MB) under "
            "which the red light says storage is almost full.", type=int, minimum=1),
    Setting("wifi_interface", "wlan0", "Network interface of the classroom access point "
            "(counted Wi-Fi clients come from it)."),
    # -- reaching the hub
    Setting("hub_url", "http://ardoise.lan/", "Address tablets use to open the hub: printed "
            "on the classroom sheet, announced on the network, given by the captive portal."),
    Setting("discovery_enabled", True, "Announce the hub on the network with zeroconf (mDNS) "
            "so tablets and technicians find it. On the central, 'ardoise serve' announces "
            "it so that a hub brought to the office syncs there.", type=bool),
    Setting("discovery_interfaces", "", "Comma-separated addresses zeroconf listens and "
            "announces on. Empty: every interface."),
    Setting("captive_portal", True, "Answer the connectivity checks of iOS, Android, ChromeOS "
            "and Windows so a tablet joining the Wi-Fi opens the hub's home page. Off: they "
            "get the answers that mean 'connected'.", type=bool),
    # -- sync with the central (see docs/sync.md)
    Setting("sync_central_url", "", "Address of the central server. Empty: the address given "
            "at enrollment, or a central found on the local network by zeroconf."),
    Setting("sync_interval_minutes", 15, "How often the agent tries to sync when the link "
            "allows (failures back off up to 15 minutes).", type=int, minimum=1),
    Setting("sync_windows", "", "Times of day when the agent syncs on its own, e.g. "
            "'00:00-06:00,12:00-13:00' (local time). Empty: any time. 'Sync now' ignores "
            "them."),
    Setting("sync_bandwidth_kbps", 0, "Upper bound of the sync's own traffic, in kbit/s, so "
            "that the school's link stays usable. 0: no bound.", type=int, minimum=0),
    Setting("sync_audit_days", 90, "How long values that lost a concurrent edit are kept "
            "for review.", type=int, minimum=1),
    Setting("sync_transfer_days", 7, "How long the state of unfinished transfers is kept so "
            "that a sync resumes where it stopped (at least 7).", type=int, minimum=7),
    Setting("sync_max_clock_ahead_hours", 48, "Changes stamped further ahead of this side's "
            "clock are refused (a device whose clock is wrong).", type=int, minimum=1),
    Setting("sync_photo_max_px", 0, "Photos handed in that are wider or taller than this "
            "many pixels are sent to the central as a smaller JPEG of that size (the hub keeps "
            "the original). 0: send every file as it is. 1600 suits a thin link.",
            type=int, minimum=0),
    # -- content packs (see docs/packs.md)
    Setting("pack_trusted_keys", "/etc/ardoise/trusted-publishers", "Publisher keys whose "
            "packs this hub installs: comma-separated folders of *.pub files, .pub files or "
            "keys (base64). The SD image writes them into the default folder."),
    Setting("pack_allow_unsigned", False, "Also install packs that carry no signature "
            "(development and demos only; a signature that is there is always checked).",
            type=bool),
    Setting("pack_source", "", "Where the agent looks for new packs and versions: the rsync "
            "address of the central's pack tree (rsync://central.example:873/packs) or a "
            "folder. Empty: no automatic updates."),
    Setting("pack_subscriptions", "", "Comma-separated ids of the packs the agent installs "
            "from pack_source. Empty: every pack it offers."),
    Setting("pack_check_minutes", 360, "How often the agent looks for new pack versions at "
            "pack_source.", type=int, minimum=5),
    Setting("pack_bandwidth_kbps", 0, "Upper bound of pack downloads, in kbit/s, so that the "
            "school's link stays usable (one pull may set its own). 0: no bound.",
            type=int, minimum=0),
    Setting("pack_connect_timeout_seconds", 30, "Give up connecting to a pack source after "
            "this many seconds.", type=int, minimum=1),
    Setting("pack_io_timeout_seconds", 120, "Stop a pack download that receives nothing for "
            "this many seconds; the next attempt resumes it.", type=int, minimum=5),
    Setting("pack_usb_mount_root", "/media", "Folder under which USB sticks are mounted; the "
            "packs found on them are offered on the technician page."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    """Convert a raw value (from TOML or environment) to the setting's type, or explain."""
    kind = setting.type
    try:
        if kind is bool:
            if isinstance(value, bool):
                result: Any = value
            elif isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                result = True
            elif isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
                result = False
            else:
                raise ValueError(value)
        elif kind is int:
            if isinstance(value, (bool, float)):
                raise ValueError(value)
            result = int(value)
        elif kind is Path:
            if not isinstance(value, (str, os.PathLike)):
                raise ValueError(value)
            result = Path(value)
        else:
            if not isinstance(value, str):
                raise ValueError(value)
            result = value
    except (TypeError, ValueError):
        raise SettingsError(
            N_("Setting %(name)s (from %(source)s) must be %(kind)s, not %(value)r."),
            name=setting.name, source=source, kind=_KIND_NAMES.get(kind, kind.__name__),
            value=str(value),
        ) from None
    if setting.choices and result not in setting.choices:
        raise SettingsError(
            N_("Setting %(name)s (from %(source)s) must be one of %(choices)s, not %(value)r."),
            name=setting.name, source=source, choices=", ".join(setting.choices),
            value=str(result),
        )
    if setting.minimum is not None and result < setting.minimum:
        raise SettingsError(
            N_("Setting %(name)s (from %(source)s) must be at least %(minimum)s."),
            name=setting.name, source=source, minimum=setting.minimum,
        )
    return result


_KIND_NAMES: dict[type, str] = {bool: "true or false", int: "a whole number", Path: "a path",
                                str: "text"}


class Settings(Mapping[str, Any]):
    """The resolved settings: read-only, with where each value came from."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        self._values = values
        self._sources = sources

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, name: str) -> str:
        return self._sources[name]

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'ardoise.db'}"


def load_settings(
    config_file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    read_default_file: bool = True,
) -> Settings:
    """Resolve settings: defaults < TOML file < ARDOISE_* environment < explicit overrides.

    A missing explicit file, an unknown key or a wrongly typed value raises SettingsError
    naming the key and the place it came from.
    """
    env = os.environ if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}

    path: Path | None = None
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise SettingsError(N_("Settings file %(path)s does not exist."), path=str(path))
    elif read_default_file and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(N_("Settings file %(path)s is not valid TOML: %(reason)s"),
                                path=str(path), reason=str(exc)) from None
        _apply(values, sources, data, str(path))

    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env], setting.env)
            sources[setting.name] = setting.env
    unknown_env = sorted(k for k in env if k.startswith(ENV_PREFIX)
                         and k[len(ENV_PREFIX):].lower() not in _BY_NAME
                         and k not in _IGNORED_ENV)
    if unknown_env:
        raise SettingsError(
            N_("Unknown environment variable %(name)s. Run 'ardoise config list' to see "
               "the settings."), name=unknown_env[0])
    if overrides:
        _apply(values, sources, dict(overrides), "overrides")
    return Settings(values, sources)


# Variables with our prefix that are not settings (read by the CLI itself, or by the tests).
_IGNORED_ENV = frozenset({"ARDOISE_CONFIG", "ARDOISE_DEBUG", "ARDOISE_TEST_POSTGRES_URL",
                          "ARDOISE_IMAGE_MEDIUM"})


def _apply(values: dict[str, Any], sources: dict[str, str], data: dict[str, Any],
           source: str) -> None:
    for key, raw in data.items():
        setting = _BY_NAME.get(key)
        if setting is None:
            raise SettingsError(
                N_("Unknown setting %(name)s in %(source)s. Run 'ardoise config list' to see "
                   "the settings."), name=key, source=source)
        values[key] = _coerce(setting, raw, source)
        sources[key] = source


def describe(settings: Settings) -> list[dict[str, Any]]:
    """Rows for `ardoise config list` and the docs: name, value, source, env, help."""
    rows = []
    for s in SETTINGS:
        value = settings[s.name]
        shown = "(set)" if s.secret and value else str(value)
        rows.append({"name": s.name, "value": shown, "source": settings.source(s.name),
                     "env": s.env, "default": s.default, "help": s.help})
    return rows


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """A per-device secret kept in a file readable only by its owner, made on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(nbytes).hex()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process won the race: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


