"""The classroom sheet: the Wi-Fi network as a QR code tablets scan to join, and the hub's
address as a second QR code.

The Wi-Fi QR code uses the de-facto format read by iOS, Android and ChromeOS cameras:
`WIFI:T:WPA;S:<name>;P:<password>;;`, where `\\`, `;`, `,`, `:` and `"` in the name or
password are escaped with a backslash. The network name and password come from
data_dir/status/wifi.json, written when the access point is set up at first boot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

WIFI_STATUS = Path("status") / "wifi.json"
_SPECIAL = '\\;,:"'


def escape(value: str) -> str:
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in value)


def wifi_payload(ssid: str, password: str | None, *, hidden: bool = False) -> str:
    """The text of the Wi-Fi QR code (WPA/WPA2 with a password, open network without)."""
    if not ssid:
        raise ValueError("a network name is needed")
    parts = ["WIFI:"]
    parts.append("T:WPA;" if password else "T:nopass;")
    parts.append(f"S:{escape(ssid)};")
    if password:
        parts.append(f"P:{escape(password)};")
    if hidden:
        parts.append("H:true;")
    return "".join(parts) + ";"


@dataclass(frozen=True)
class WifiInfo:
    ssid: str
    password: str | None
    capacity: int | None = None


def read_wifi_info(data_dir: Path) -> WifiInfo | None:
    """The access point's name and password, or None when first boot has not set it up."""
    try:
        data = json.loads((Path(data_dir) / WIFI_STATUS).read_text(encoding="utf-8"))
        ssid = str(data["ssid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not ssid:
        return None
    password = data.get("passphrase") or None
    capacity = data.get("client_capacity")
    return WifiInfo(ssid=ssid, password=str(password) if password else None,
                    capacity=int(capacity) if isinstance(capacity, int) else None)


def qr_svg(payload: str, *, title: str = "", scale: int = 8) -> str:
    """An inline SVG QR code (vector: sharp when printed). Error correction M: a sheet
    pinned on a wall gets marked."""
    import segno  # only when a sheet is printed: the web process imports this module

    qr = segno.make(payload, error="m", micro=False)
    return qr.svg_inline(scale=scale, border=4, title=title or None, dark="#000",
                         light="#fff", omitsize=True, svgclass="qr")


__all__ = ["WifiInfo", "escape", "qr_svg", "read_wifi_info", "wifi_payload"]
