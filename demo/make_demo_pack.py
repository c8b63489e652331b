"""Build the demo content pack `decouverte` (demo/packs/decouverte/).

The lessons (lecons/*.html, lessons/*.html), the diagram (images/cycle-eau.svg) and the
glossary (documents/lexique-eau.txt) are written by hand and kept as they are. This
script makes the rest and is only needed to change them:

- fiches/fiche-fractions.pdf: a worksheet, drawn by the small PDF writer below (A4);
- audio/cycle-eau.mp3: the lesson read aloud (espeak-ng, then ffmpeg to MP3);
- videos/cycle-eau.mp4: an 8-second animation drawn by ffmpeg (H.264, +faststart so
  browsers can seek before the whole file is there);
- manifest.json: every file hashed, with the resources' descriptions below.

Regenerate everything (needs `apt-get install espeak-ng ffmpeg`):
    .venv/bin/python demo/make_demo_pack.py
Only rewrite the manifest after editing a lesson (no extra tool needed):
    .venv/bin/python demo/make_demo_pack.py --manifest-only
Then check it installs: `.venv/bin/ardoise pack install demo/packs/decouverte`.
The generated files are small and committed, so a fresh checkout installs as is.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from content_packs.manifest import MANIFEST_NAME, write_manifest

PACK = Path(__file__).resolve().parent / "packs" / "decouverte"
VIDEO_SECONDS = 8

META = {
    "id": "decouverte",
    "version": "1.0.0",
    "title": {"fr": "Découverte : premières leçons", "en": "Discovery: first lessons"},
    "description": {
        "fr": "Quelques courtes leçons pour le primaire (2e et 3e cycles) : le cycle de "
              "l'eau, les fractions, les animaux du Saint-Laurent, l'accord du participe "
              "passé, avec des jeux-questionnaires, une fiche, un enregistrement et une "
              "vidéo.",
        "en": "A few short lessons for elementary school (cycles 2 and 3): the water cycle, "
              "fractions, the animals of the St. Lawrence, the agreement of the past "
              "participle, with quizzes, a worksheet, a recording and a video.",
    },
    "language": "fr",
    "subjects": ["science-technologie", "mathematique", "francais", "anglais"],
    "cycles": ["primaire-2", "primaire-3"],
    "licence": "CC-BY-4.0",
    "publisher": "Projet Ardoise",
}

AUDIO_TEXT = (
    "Le cycle de l'eau. Le soleil chauffe l'eau des océans, des lacs et des rivières : "
    "c'est l'évaporation. La vapeur d'eau monte dans l'air, se refroidit et forme des "
    "nuages : c'est la condensation. Quand les gouttelettes deviennent trop lourdes, il "
    "pleut ou il neige : ce sont les précipitations. L'eau coule ensuite vers les "
    "rivières, le fleuve et la mer, et le cycle recommence.")

VIDEO_TEXT = ("Animation du cycle de l'eau : évaporation de l'eau de la mer, condensation "
              "en nuage, puis précipitations sous forme de pluie.")

WORKSHEET_TEXT = (
    "Fiche d'exercices sur les fractions : colorier une fraction d'un cercle, écrire la "
    "fraction colorée d'une figure, comparer des fractions avec <, > ou =. Numérateur, "
    "dénominateur, demi, tiers, quart.")


def resources(durations: dict[str, int]) -> list[dict[str, object]]:
    """The resources of the pack, in the order the library shows them."""
    sci, maths, fr, en = "science-technologie", "mathematique", "francais", "anglais"
    return [
        {"id": "cycle-eau", "kind": "html", "entry": "lecons/cycle-eau.html",
         "title": {"fr": "Le cycle de l'eau", "en": "The water cycle (in French)"},
         "description": {"fr": "Évaporation, condensation, précipitations, ruissellement : "
                               "le voyage de l'eau, avec un jeu-questionnaire.",
                         "en": "Evaporation, condensation, precipitation, runoff: the "
                               "journey of water, with a quiz."},
         "subjects": [sci], "cycles": ["primaire-2", "primaire-3"], "duration": 600},
        {"id": "fractions", "kind": "html", "entry": "lecons/fractions.html",
         "title": {"fr": "Les fractions", "en": "Fractions (in French)"},
         "description": {"fr": "Numérateur, dénominateur, fractions équivalentes et "
                               "comparaison, avec un jeu-questionnaire.",
                         "en": "Numerator, denominator, equivalent fractions and "
                               "comparing, with a quiz."},
         "subjects": [maths], "cycles": ["primaire-2"], "duration": 600},
        {"id": "animaux-saint-laurent", "kind": "html",
         "entry": "lecons/animaux-saint-laurent.html",
         "title": {"fr": "Les animaux du Saint-Laurent",
                   "en": "Animals of the St. Lawrence (in French)"},
         "description": {"fr": "Le béluga, le rorqual bleu, le fou de Bassan et le phoque "
                               "commun, avec un jeu-questionnaire.",
                         "en": "The beluga, the blue whale, the northern gannet and the "
                               "harbour seal, with a quiz."},
         "subjects": [sci], "cycles": ["primaire-2", "primaire-3"], "duration": 600},
        {"id": "participe-passe", "kind": "html", "entry": "lecons/participe-passe.html",
         "title": {"fr": "L'accord du participe passé",
                   "en": "Past participle agreement (in French)"},
         "description": {"fr": "Employé seul, avec être, avec avoir : les règles et un "
                               "jeu-questionnaire.",
                         "en": "On its own, with être, with avoir: the rules and a quiz."},
         "subjects": [fr], "cycles": ["primaire-3"], "duration": 600},
        {"id": "schema-cycle-eau", "kind": "image", "entry": "images/cycle-eau.svg",
         "title": {"fr": "Schéma du cycle de l'eau", "en": "Water cycle diagram"},
         "description": {"fr": "Le soleil, la mer, les nuages, la pluie, la rivière et la "
                               "nappe souterraine.",
                         "en": "The sun, the sea, clouds, rain, the river and groundwater."},
         "subjects": [sci], "cycles": ["primaire-2", "primaire-3"],
         "text": "Évaporation Condensation Précipitations Ruissellement Infiltration"},
        {"id": "fiche-fractions", "kind": "pdf", "entry": "fiches/fiche-fractions.pdf",
         "title": {"fr": "Fiche : les fractions", "en": "Worksheet: fractions"},
         "description": {"fr": "Une fiche à imprimer : colorier, écrire et comparer des "
                               "fractions.",
                         "en": "A printable worksheet: colour, write and compare "
                               "fractions."},
         "subjects": [maths], "cycles": ["primaire-2"], "text": WORKSHEET_TEXT},
        {"id": "audio-cycle-eau", "kind": "audio", "entry": "audio/cycle-eau.mp3",
         "title": {"fr": "Écoute : le cycle de l'eau", "en": "Listen: the water cycle"},
         "description": {"fr": "Le cycle de l'eau expliqué à voix haute.",
                         "en": "The water cycle read aloud (in French)."},
         "subjects": [sci], "cycles": ["primaire-2", "primaire-3"],
         "duration": durations["audio-cycle-eau"], "text": AUDIO_TEXT},
        {"id": "video-cycle-eau", "kind": "video", "entry": "videos/cycle-eau.mp4",
         "title": {"fr": "Vidéo : le cycle de l'eau", "en": "Video: the water cycle"},
         "description": {"fr": "Une courte animation : évaporation, condensation, "
                               "précipitations.",
                         "en": "A short animation: evaporation, condensation, "
                               "precipitation."},
         "subjects": [sci], "cycles": ["primaire-2", "primaire-3"],
         "duration": durations["video-cycle-eau"], "text": VIDEO_TEXT},
        {"id": "lexique-eau", "kind": "document", "entry": "documents/lexique-eau.txt",
         "title": {"fr": "Lexique de l'eau", "en": "Water glossary (in French)"},
         "description": {"fr": "Les mots du cycle de l'eau et leur définition, à "
                               "télécharger.",
                         "en": "The words of the water cycle and their meaning, to "
                               "download."},
         "subjects": [sci, fr], "cycles": ["primaire-2", "primaire-3"]},
        {"id": "colours", "kind": "html", "entry": "lessons/colours.html", "language": "en",
         "title": {"fr": "Les couleurs en anglais", "en": "Colours"},
         "description": {"fr": "Les couleurs en anglais, avec un jeu-questionnaire.",
                         "en": "Learn the colours in English, with a quiz."},
         "subjects": [en], "cycles": ["primaire-2"], "duration": 300},
        {"id": "water-cycle", "kind": "html", "entry": "lessons/water-cycle.html",
         "language": "en",
         "title": {"fr": "Le cycle de l'eau (en anglais)", "en": "The water cycle"},
         "description": {"fr": "La leçon sur le cycle de l'eau, en anglais.",
                         "en": "Evaporation, condensation, precipitation and runoff, with a "
                               "quiz."},
         "subjects": [sci, en], "cycles": ["primaire-3"], "duration": 420},
    ]


# -- a very small PDF writer ----------------------------------------------------------------

class TinyPdf:
    """One-page A4 PDF with Helvetica text (French accents via WinAnsi), lines, boxes and
    polygons. Coordinates in points from the top-left corner."""

    WIDTH, HEIGHT = 595, 842

    def __init__(self) -> None:
        self.ops: list[str] = []

    def _y(self, y: float) -> float:
        return self.HEIGHT - y

    def text(self, x: float, y: float, value: str, size: float = 12, bold: bool = False
             ) -> None:
        raw = value.encode("cp1252")
        escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        self.ops.append(f"BT /{'F2' if bold else 'F1'} {size} Tf {x:.1f} {self._y(y):.1f} Td "
                        f"({escaped.decode('latin-1')}) Tj ET")

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 1) -> None:
        self.ops.append(f"{width} w {x1:.1f} {self._y(y1):.1f} m {x2:.1f} {self._y(y2):.1f} l S")

    def rect(self, x: float, y: float, w: float, h: float, gray: float | None = None) -> None:
        fill = f"{gray} g " if gray is not None else ""
        op = "B" if gray is not None else "S"
        self.ops.append(f"1 w {fill}{x:.1f} {self._y(y + h):.1f} {w:.1f} {h:.1f} re {op} 0 g")

    def polygon(self, points: list[tuple[float, float]], gray: float | None = None) -> None:
        path = " ".join(f"{x:.1f} {self._y(y):.1f} {'m' if i == 0 else 'l'}"
                        for i, (x, y) in enumerate(points))
        fill = f"{gray} g " if gray is not None else ""
        self.ops.append(f"1 w {fill}{path} h {'B' if gray is not None else 'S'} 0 g")

    def pie(self, cx: float, cy: float, r: float, parts: int, shaded: int = 0) -> None:
        """A circle cut into `parts` equal slices from the top, `shaded` of them grey."""
        def at(angle: float) -> tuple[float, float]:
            return cx + r * math.cos(angle), cy - r * math.sin(angle)
        step = 2 * math.pi / parts
        for k in range(parts):
            start = math.pi / 2 - k * step
            arc = [at(start - step * i / 24) for i in range(25)]
            self.polygon([(cx, cy), *arc], gray=0.75 if k < shaded else None)

    def save(self, path: Path) -> None:
        content = "\n".join(self.ops).encode("latin-1")
        font = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.WIDTH} {self.HEIGHT}] "
             "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>").encode(),
            font.format("Helvetica").encode(),
            font.format("Helvetica-Bold").encode(),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                % (len(objects) + 1, xref))
        path.write_bytes(bytes(out))


def make_worksheet(path: Path) -> None:
    pdf = TinyPdf()
    pdf.text(50, 60, "Fiche : les fractions", size=22, bold=True)
    pdf.text(50, 90, "Nom : ______________________________      Date : _______________", 12)

    pdf.text(50, 135, "1. Colorie la fraction demandée.", 14, bold=True)
    for i, (parts, label) in enumerate([(2, "1/2"), (4, "3/4"), (3, "2/3")]):
        cx = 130 + i * 170
        pdf.pie(cx, 215, 55, parts)
        pdf.text(cx - 12, 300, label, 18, bold=True)

    pdf.text(50, 350, "2. Quelle fraction de la figure est colorée ? Écris-la.", 14, bold=True)
    for row, (parts, shaded) in enumerate([(4, 1), (5, 3), (8, 5)]):
        y = 375 + row * 60
        width = 240 / parts
        for k in range(parts):
            pdf.rect(60 + k * width, y, width, 36, gray=0.75 if k < shaded else None)
        pdf.text(330, y + 25, "Réponse : ______", 13)

    pdf.text(50, 580, "3. Compare avec <, > ou =.", 14, bold=True)
    for i, (a, b) in enumerate([("2/5", "4/5"), ("3/8", "1/8"), ("1/2", "2/4")]):
        pdf.text(70 + i * 170, 620, f"{a}   ____   {b}", 16)

    pdf.text(50, 680, "4. Vrai ou faux ?", 14, bold=True)
    for y, statement in ((708, "Dans 3/4, le dénominateur est 4."),
                         (734, "Un demi, c'est la même chose que deux quarts.")):
        pdf.text(70, y, statement, 13)
        pdf.text(400, y, "Vrai", 13)
        pdf.text(470, y, "Faux", 13)

    pdf.line(50, 790, 545, 790, 0.5)
    pdf.text(50, 808, "Ardoise · Paquet « Découverte » · Licence CC BY 4.0", 9)
    pdf.save(path)


# -- audio and video ----------------------------------------------------------------------

def _need(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        sys.exit(f"{tool} is needed to regenerate the media: apt-get install {tool}, or use "
                 "--manifest-only.")
    return found


def make_audio(path: Path) -> int:
    """Speak AUDIO_TEXT in French, encode to MP3; returns the duration in seconds."""
    espeak, ffmpeg = _need("espeak-ng"), _need("ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        subprocess.run([espeak, "-v", "fr", "-s", "140", "-w", str(wav), AUDIO_TEXT],
                       check=True)
        with wave.open(str(wav)) as w:
            seconds = round(w.getnframes() / w.getframerate())
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-ac", "1",
                        "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "32k",
                        "-map_metadata", "-1", "-fflags", "+bitexact",
                        "-flags:a", "+bitexact", str(path)], check=True)
    return seconds


def _font() -> str:
    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                      "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"):
        if Path(candidate).exists():
            return candidate
    sys.exit("No DejaVu or Liberation font found: apt-get install fonts-dejavu-core")


def make_video(path: Path) -> int:
    """An animation of the water cycle in three acts, drawn by ffmpeg filters."""
    ffmpeg = _need("ffmpeg")
    font = _font()
    d = VIDEO_SECONDS

    def label(text: str, start: float, end: float) -> str:
        return (f"drawtext=fontfile={font}:text='{text}':fontsize=26:fontcolor=0x1b1b1b:"
                f"box=1:boxcolor=white@0.8:boxborderw=6:x=(w-text_w)/2:y=12:"
                f"enable='between(t,{start},{end})'")

    vapour = ",".join(
        f"drawbox=x={x}:y='200-mod(t*45+{k * 37},120)':w=6:h=14:color=0x6fa8dc:t=fill:"
        f"enable='lt(t,2.8)'" for k, x in enumerate(range(280, 470, 24)))
    rain = ",".join(
        f"drawbox=x={x}:y='95+mod((t-5.4)*140+{k * 29},100)':w=4:h=16:color=0x1f5f99:t=fill:"
        f"enable='gte(t,5.4)'" for k, x in enumerate(range(80, 230, 15)))
    cloud_x = "if(lt(t,2.8),340,if(lt(t,5.2),340-(t-2.8)*90,124))"
    puffs = ((0, 60, 110, 34), (20, 44, 60, 20), (-14, 70, 20, 20))
    cloud = ",".join(
        f"drawbox=x='{cloud_x}+{dx - grow}':y={y - grow}:w={w + 2 * grow}:h={h + 2 * grow}:"
        f"color={color}:t=fill:enable='gte(t,2.4)'"
        for grow, color in ((3, "0x8a9bb0"), (0, "white")) for dx, y, w, h in puffs)
    graph = ",".join([
        "drawbox=x=0:y=200:w=250:h=70:color=0xa3c46c:t=fill",      # land
        "drawbox=x=250:y=205:w=230:h=65:color=0x2f7fc1:t=fill",    # sea
        "drawbox=x=60:y=150:w=150:h=50:color=0x8d9b6a:t=fill",      # hill
        "drawbox=x=410:y=40:w=44:h=44:color=0xffd23f:t=fill",       # sun
        vapour, cloud, rain,
        label("Évaporation", 0, 2.8), label("Condensation", 2.8, 5.4),
        label("Précipitations", 5.4, d),
    ])
    subprocess.run([
        ffmpeg, "-v", "error", "-y", "-f", "lavfi",
        "-i", f"color=c=0xdff1ff:s=480x270:r=24:d={d}", "-vf", graph,
        "-c:v", "libx264", "-profile:v", "main", "-level", "3.0", "-pix_fmt", "yuv420p",
        "-crf", "30", "-preset", "veryslow", "-g", "48", "-movflags", "+faststart",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", str(path),
    ], check=True)
    return d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest-only", action="store_true",
                        help="Keep the media as they are; only rewrite manifest.json.")
    args = parser.parse_args()
    for folder in ("fiches", "audio", "videos"):
        (PACK / folder).mkdir(parents=True, exist_ok=True)
    if args.manifest_only:
        old = json.loads((PACK / MANIFEST_NAME).read_text(encoding="utf-8"))
        durations = {r["id"]: r.get("duration") for r in old["resources"]}
    else:
        make_worksheet(PACK / "fiches" / "fiche-fractions.pdf")
        durations = {"audio-cycle-eau": make_audio(PACK / "audio" / "cycle-eau.mp3"),
                     "video-cycle-eau": make_video(PACK / "videos" / "cycle-eau.mp4")}
    manifest = write_manifest(PACK, META, resources(durations))
    print(f"{manifest.id} {manifest.version}: {len(manifest.files)} files, "
          f"{manifest.total_bytes // 1024} KB, {len(manifest.resources)} resources")


if __name__ == "__main__":
    main()
