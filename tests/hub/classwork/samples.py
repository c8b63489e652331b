"""Small files of each kind, built from their real signatures."""

from __future__ import annotations

import io
import wave

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(300)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(30)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40)
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100)
HEIF = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf" + bytes(100)
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(100)
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00" + bytes(100)
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + bytes(100)
MKV = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska" + bytes(100)
OGG = b"OggS\x00\x02" + bytes(100)
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100)
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(100)
AAC = b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(100)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
TEXT = b"Ceci n'est pas une photo.\n" * 10
HTML = b"<!doctype html><script>alert(1)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def wav(seconds: float = 0.1) -> bytes:
    """A real WAV file (silence)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(int(8000 * seconds) * 2))
    return out.getvalue()


def big_jpeg(size: int) -> bytes:
    return JPEG + bytes(size - len(JPEG))
