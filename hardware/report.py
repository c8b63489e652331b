"""The status as rows of (label, value) in a language: one wording for `ardoise status`
and the technician page, so both say the same thing in the same words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal

from ardoise.i18n import N_, translate
from hardware import problems as P
from hardware.status import DeviceStatus

BYTES = N_("bytes")
STATES = {"ok": N_("Working"), "busy": N_("Syncing or updating"),
          "attention": N_("Needs attention")}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: str
    level: str = ""  # "", "warning" or "problem": how the page colours the row


def _babel_locale(locale: str) -> str:
    return "fr_CA" if locale.startswith("fr") else "en"


def _num(value: float, locale: str, digits: int = 1) -> str:
    return format_decimal(round(value, digits), locale=_babel_locale(locale))


def fmt_bytes(n: int | None, locale: str) -> str:
    if n is None:
        return translate(N_("unknown"), locale)
    for unit, size in ((N_("GB"), 1e9), (N_("MB"), 1e6), (N_("kB"), 1e3)):
        if abs(n) >= size:
            return f"{_num(n / size, locale)} {translate(unit, locale)}"
    return f"{n} {translate(BYTES, locale)}"


def fmt_time(value: dt.datetime | None, locale: str, tz: str) -> str:
    if value is None:
        return translate(N_("never"), locale)
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return format_datetime(value, "medium", tzinfo=zone, locale=_babel_locale(locale))


def fmt_duration(seconds: float | None, locale: str) -> str:
    if seconds is None:
        return translate(N_("unknown"), locale)
    return format_timedelta(dt.timedelta(seconds=seconds), threshold=1.1,
                            locale=_babel_locale(locale))


def problem_text(problem: P.Problem, locale: str) -> str:
    text = translate(problem.message, locale)
    if problem.blinks:
        text = translate(N_("%(text)s (red light: %(n)s blinks)"), locale, text=text,
                         n=problem.blinks)
    return text


def rows(status: DeviceStatus, locale: str, tz: str = "UTC") -> list[Row]:
    """Every line of the status, translated."""
    T = lambda m, **kw: translate(m, locale, **kw)  # noqa: E731
    unknown = T(N_("unknown"))
    out: list[Row] = [Row("state", T(N_("State")), T(STATES[status.state]),
                          "problem" if status.problems else "")]
    for p in status.problems:
        out.append(Row(f"problem:{p.code}", T(N_("Problem")),
                       f"{problem_text(p, locale)} {T(p.hint)}", "problem"))
    for w in status.warnings:
        out.append(Row(f"warning:{w.code}", T(N_("Warning")),
                       f"{problem_text(w, locale)} {T(w.hint)}", "warning"))
    if status.agent and status.agent.get("hardware") not in (None, "on"):
        out.append(Row("hardware", T(N_("Lights and button")),
                       str(status.agent.get("hardware_reason") or ""), "warning"))
    out.append(Row("version", T(N_("Version")), status.version))
    out.append(Row("role", T(N_("Role")), status.role))
    out.append(Row("uptime", T(N_("Running for")), fmt_duration(status.uptime_seconds, locale)))
    out.append(Row("cpu_temp", T(N_("CPU temperature")),
                   unknown if status.cpu_temp_c is None
                   else f"{_num(status.cpu_temp_c, locale)} °C",
                   "problem" if P.TOO_HOT in status.problems else ""))
    out.append(Row("power", T(N_("Power and heat")), _throttling(status, locale)))
    mem = (unknown if status.memory_total_bytes is None or status.memory_available_bytes is None
           else T(N_("%(free)s free of %(total)s"),
                  free=fmt_bytes(status.memory_available_bytes, locale),
                  total=fmt_bytes(status.memory_total_bytes, locale)))
    out.append(Row("memory", T(N_("Memory")), mem))
    out.append(Row("load", T(N_("Load (1, 5, 15 min)")),
                   unknown if status.load_1m is None else " / ".join(
                       _num(v or 0.0, locale, 2)
                       for v in (status.load_1m, status.load_5m, status.load_15m))))
    disk = (unknown if status.disk_free_bytes is None or status.disk_total_bytes is None
            else T(N_("%(free)s free of %(total)s"),
                   free=fmt_bytes(status.disk_free_bytes, locale),
                   total=fmt_bytes(status.disk_total_bytes, locale)))
    out.append(Row("disk", T(N_("Storage (data)")), disk,
                   "problem" if P.STORAGE_FULL in status.problems else ""))
    wifi = unknown if status.wifi_clients is None else str(status.wifi_clients)
    if status.wifi_clients is not None and status.wifi_capacity:
        wifi = T(N_("%(n)s of about %(max)s"), n=status.wifi_clients, max=status.wifi_capacity)
    out.append(Row("wifi", T(N_("Tablets on the Wi-Fi")), wifi,
                   "warning" if P.WIFI_CROWDED in status.warnings else ""))
    sd = fmt_bytes(status.sd_written_bytes, locale)
    if status.sd_device:
        sd = f"{sd} ({status.sd_device})"
    out.append(Row("sd", T(N_("Written to the SD card since start")), sd))
    out.append(Row("web", T(N_("Web pages")), unknown if status.web_ok is None else
                   T(N_("served")) if status.web_ok else T(N_("not answering")),
                   "problem" if status.web_ok is False else ""))
    sync = status.last_sync
    if sync is None:
        sync_text = T(N_("never"))
    else:
        sync_text = T(N_("%(when)s: %(result)s"), when=fmt_time(sync.at, locale, tz),
                      result=T(N_("succeeded")) if sync.ok else T(N_("failed")))
        if sync.message:
            sync_text += f" ({sync.message})"
    out.append(Row("last_sync", T(N_("Last sync")), sync_text,
                   "problem" if P.SYNC_FAILED in status.problems else ""))
    if status.sync_requested:
        out.append(Row("sync_requested", T(N_("Sync requested")), T(N_("waiting for the agent"))))
    if status.activity:
        out.append(Row("activity", T(N_("Working on")),
                       f"{status.activity.get('task', '')} ({status.activity.get('since', '')})"))
    agent_text = unknown
    if status.agent is not None:
        agent_text = T(N_("last seen %(when)s"), when=fmt_time(status.agent_seen_at, locale, tz))
        if status.agent.get("stopped"):
            agent_text = T(N_("stopped %(when)s"), when=fmt_time(status.agent_seen_at, locale, tz))
    elif "agent" not in status.unknown:
        agent_text = T(N_("never started"))
    out.append(Row("agent", T(N_("Device agent")), agent_text,
                   "warning" if P.AGENT_STOPPED in status.warnings else ""))
    if status.agent and status.agent.get("lights"):
        out.append(Row("lights", T(N_("Lights now")), lights_text(status.agent["lights"], locale)))
    packs = unknown if status.packs is None else (
        ", ".join(f"{pid} {ver}" for pid, ver in status.packs) or T(N_("none")))
    out.append(Row("packs", T(N_("Installed packs")), packs))
    if status.unknown:
        out.append(Row("unknown", T(N_("Not available")), "; ".join(
            f"{k}: {v}" for k, v in sorted(status.unknown.items()) if k in _COLLECTOR_NAMES)))
    return out


LIGHT_NAMES = {"green": N_("green"), "yellow": N_("yellow"), "red": N_("red")}
PATTERN_NAMES = {"on": N_("on"), "off": N_("off"), "slow": N_("blinking slowly"),
                 "fast": N_("blinking fast"), "progress": N_("blinking with progress")}


def lights_text(lights: dict[str, str], locale: str) -> str:
    """"green: on, yellow: off, red: 3 blinks" in the user's language."""
    parts = []
    for name in ("green", "yellow", "red"):
        kind = lights.get(name)
        if kind is None:
            continue
        if kind.startswith("code-"):
            shown = translate(N_("%(n)s blinks"), locale, n=kind.removeprefix("code-"))
        else:
            shown = translate(PATTERN_NAMES.get(kind, kind), locale)
        parts.append(translate(N_("%(light)s: %(shown)s"), locale,
                               light=translate(LIGHT_NAMES[name], locale), shown=shown))
    return ", ".join(parts)


_COLLECTOR_NAMES = frozenset({"temperature", "throttling", "memory", "load", "uptime", "disk",
                              "wifi", "wifi_capacity", "sd", "web", "firstboot", "database"})


def _throttling(status: DeviceStatus, locale: str) -> str:
    t = status.throttling
    if t is None:
        return translate(N_("unknown"), locale)
    notes = []
    if t.get("under_voltage_now"):
        notes.append(N_("under-voltage now"))
    elif t.get("under_voltage_since_boot"):
        notes.append(N_("under-voltage since start"))
    if t.get("throttled_now") or t.get("soft_temp_limit_now"):
        notes.append(N_("slowed down now"))
    elif t.get("throttled_since_boot") or t.get("soft_temp_limit_since_boot"):
        notes.append(N_("slowed down since start"))
    if not notes:
        return translate(N_("fine"), locale)
    return ", ".join(translate(n, locale) for n in notes) + f" ({t.get('raw', '')})"


__all__ = ["Row", "fmt_bytes", "problem_text", "rows"]
