"""Decode the QR codes of an HTML page the way a tablet camera would: rasterise each
inline segno SVG (rows of horizontal strokes) and read it with zxing-cpp."""

from __future__ import annotations

import re

import zxingcpp

PIXELS_PER_MODULE = 6


def rasterise(svg: str) -> tuple[bytes, int]:
    """A grayscale bitmap (0 = black) of a segno SVG, and its width."""
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view, "no viewBox in the QR code"
    scale = re.search(r'transform="scale\((\d+)\)"', svg)
    factor = int(scale.group(1)) if scale else 1
    width, height = int(view.group(1)) // factor, int(view.group(2)) // factor
    path = re.search(r'class="qrline"[^>]*\sd="([^"]+)"', svg)
    assert path, "no QR path in the SVG"
    dark = [[False] * width for _ in range(height)]
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHhVv])([^MmHhVv]*)", path.group(1)):
        nums = [float(n) for n in args.replace(",", " ").split()]
        if cmd in "Mm":
            x, y = (nums[0], nums[1]) if cmd == "M" else (x + nums[0], y + nums[1])
        elif cmd in "Hh":
            end = nums[0] if cmd == "H" else x + nums[0]
            for col in range(round(min(x, end)), round(max(x, end))):
                dark[int(y)][col] = True
            x = end
        else:
            y = nums[0] if cmd == "V" else y + nums[0]
    s = PIXELS_PER_MODULE
    rows = bytearray()
    for row in dark:
        line = bytes(0 if d else 255 for d in row for _ in range(s))
        rows += line * s
    return bytes(rows), width * s


def decode_all(html: str) -> list[str]:
    """The text of every QR code in the page, in page order."""
    texts = []
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        data, width = rasterise(svg)
        view = memoryview(data).cast("B", (len(data) // width, width))
        found = zxingcpp.read_barcodes(view, formats=zxingcpp.BarcodeFormat.QRCode)
        assert len(found) == 1, "the QR code did not decode"
        texts.append(found[0].text)
    return texts
