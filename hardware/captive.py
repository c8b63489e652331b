"""The captive portal: how a tablet joining the classroom Wi-Fi is sent to the hub.

Tablets test their connection by fetching a known URL and comparing the answer with what
they expect. The hub's DNS answers every name with the hub's address, so those requests
reach the hub's web server, which answers with a redirect to the hub's home page instead
of the expected text: the system concludes "captive portal" and opens its portal sheet on
the hub (iOS/iPadOS Captive Network Assistant, Android's "Sign in to network",
ChromeOS's sign-in tab, Windows opening the browser). With the portal turned off the hub
answers exactly what each system expects, and tablets just say "connected". The table
below is what the web layer serves; docs/captive-portal.md explains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
CAPTIVE_JSON = "application/captive+json"
TEMPLATE = Path(__file__).with_name("templates") / "dnsmasq-captive.conf"


@dataclass(frozen=True)
class Probe:
    """A connectivity-check URL and the answer that means "connected"."""

    path: str
    systems: str
    status: int
    body: str = ""
    content_type: str = "text/plain"


PROBES: tuple[Probe, ...] = (
    Probe("/hotspot-detect.html", "iOS, iPadOS, macOS (captive.apple.com)", 200,
          APPLE_SUCCESS, "text/html"),
    Probe("/library/test/success.html", "older iOS and macOS (www.apple.com)", 200,
          APPLE_SUCCESS, "text/html"),
    Probe("/generate_204", "Android, ChromeOS (connectivitycheck.gstatic.com, "
          "clients3.google.com)", 204),
    Probe("/gen_204", "Android (www.google.com)", 204),
    Probe("/connecttest.txt", "Windows 10 and 11 (www.msftconnecttest.com)", 200,
          "Microsoft Connect Test"),
    Probe("/ncsi.txt", "Windows 7 and 8 (www.msftncsi.com)", 200, "Microsoft NCSI"),
)
# Where Windows sends the browser once it has seen a portal: always the hub's home page.
WINDOWS_REDIRECT = "/redirect"


def captive_api(portal_on: bool, hub_url: str) -> dict[str, object]:
    """The RFC 8908 API document.

    On: the network is "captive" (the hub gives no Internet, ever) and the user portal is
    the hub's home page, so clients that read the API open it. Off: not captive; the home
    page is still given as venue information.
    """
    if portal_on:
        return {"captive": True, "user-portal-url": hub_url, "venue-info-url": hub_url}
    return {"captive": False, "venue-info-url": hub_url}


def render_dnsmasq(*, interface: str, hub_ip: str, range_start: str, range_end: str,
                   api_url: str = "") -> str:
    """The dnsmasq configuration for the classroom network.

    RFC 8908 wants the API reached over HTTPS with a certificate the tablet trusts, and
    clients ignore an http:// API; so option 114 is written only for an https:// URL (a hub
    with a real certificate), and otherwise left as a comment that says why.
    """
    if api_url.startswith("https://"):
        line = f'dhcp-option=114,"{api_url}"'
    else:
        line = ("# (not set: the RFC 8908 API needs an https:// address with a trusted "
                "certificate; give one as api_url)")
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        interface=interface, hub_ip=hub_ip, range_start=range_start, range_end=range_end,
        capport_line=line)


__all__ = ["APPLE_SUCCESS", "CAPTIVE_JSON", "PROBES", "WINDOWS_REDIRECT", "Probe",
           "captive_api", "render_dnsmasq"]
