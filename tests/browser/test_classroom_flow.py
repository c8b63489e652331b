"""A whole day in class, in a real browser at tablet size, in French and in English.

A teacher publishes an assignment with a PDF and a video; a student signs in with her
picture code, opens the PDF and the video (and seeks in it), hands in a photo; the
teacher gives feedback and a mark; the student sees them. Screenshots of the main pages
are saved in docs/screenshots/.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from hub.db import database
from hub.demo import seed_demo
from tests.browser.conftest import LiveHub, screenshot

pytestmark = pytest.mark.browser

TEXT = {
    "fr": {"locale": "fr-CA", "html": "fr-CA", "todo": "À faire", "hand_in": "Remettre",
           "publish": "Publier", "search": "Rechercher",
           "feedback": "Enregistrer la rétroaction"},
    "en": {"locale": "en-CA", "html": "en", "todo": "To do", "hand_in": "Hand in",
           "publish": "Publish", "search": "Search", "feedback": "Save the feedback"},
}

PDF_UID = "decouverte/fiche-fractions"
VIDEO_UID = "decouverte/video-cycle-eau"


def _photo(page: Page) -> bytes:
    """A real JPEG, drawn by the browser as a tablet camera would produce one."""
    data_url = page.evaluate("""() => {
        const c = document.createElement('canvas'); c.width = 320; c.height = 240;
        const g = c.getContext('2d'); g.fillStyle = '#1e6b30'; g.fillRect(0, 0, 320, 240);
        g.fillStyle = '#fff'; g.font = '28px sans-serif'; g.fillText('Mon schéma', 60, 130);
        return c.toDataURL('image/jpeg', 0.8); }""")
    return base64.b64decode(data_url.split(",", 1)[1])


def _set_language(page: Page, url: str, lang: str) -> None:
    if lang == "en":
        page.goto(url + "/lang/en")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_assignment_round_trip(live_hub: LiveHub, tablets: Callable[[str], Page],
                               data_dir: Path, lang: str) -> None:
    text = TEXT[lang]
    url = live_hub.url
    with database(live_hub.app).sessions() as s:
        demo = seed_demo(s, data_dir, n_students=3)
    student = demo.students[0]
    shots = True

    # -- the teacher publishes an assignment with a PDF and a video
    t = tablets(text["locale"])
    _set_language(t, url, lang)
    t.goto(url + "/signin/staff")
    t.fill("input[name=username]", demo.teacher.user.username)
    t.fill("input[name=password]", demo.teacher.secret)
    t.locator("form button[type=submit]").last.click()
    expect(t).to_have_url(re.compile(r"/teacher/"))
    assert t.locator("html").get_attribute("lang") == text["html"]
    if shots:
        screenshot(t, f"{lang}-teacher-home")
    t.goto(f"{url}/teacher/classes/{demo.classroom.id}/assignments/new")
    t.fill("#title", "Mesurer la pluie" if lang == "fr" else "Measuring rain")
    t.fill("#instructions", "Observe, mesure, remets une photo." if lang == "fr"
           else "Observe, measure, hand in a photo.")
    t.fill("#due_at", "2030-06-01T15:00")
    for query, uid in (("fractions", PDF_UID), ("vidéo", VIDEO_UID)):
        t.fill("#q", query)
        t.get_by_role("button", name=text["search"], exact=True).click()
        t.locator(f"input[name=resources][value='{uid}']").first.check()
    if shots:
        screenshot(t, f"{lang}-teacher-new-assignment")
    with t.expect_navigation():
        t.get_by_role("button", name=text["publish"], exact=True).click()
    expect(t.locator("h1")).to_contain_text("Mesurer la pluie" if lang == "fr"
                                            else "Measuring rain")
    assignment_url = t.url

    # -- the student signs in with her picture code on a shared tablet
    p = tablets(text["locale"])
    _set_language(p, url, lang)
    p.goto(url + "/signin")
    p.get_by_role("link", name=re.compile(demo.classroom.name)).click()
    p.locator(f"a[href*='{student.user.id}']").click()
    if shots:
        screenshot(p, f"{lang}-student-picture-code")
    for picture in student.secret.split("-"):
        p.locator(f"button[name=tap][value={picture}]").click()
    expect(p).to_have_url(re.compile(r"/student/$"))
    expect(p.get_by_role("heading", name=text["todo"])).to_be_visible()
    if shots:
        screenshot(p, f"{lang}-student-home")
    p.get_by_role("link", name="Mesurer la pluie" if lang == "fr" else "Measuring rain").click()
    student_assignment_url = p.url

    # opens the PDF: the viewer embeds it and the file is a real PDF
    p.locator(f"a[href*='{PDF_UID}']").first.click()
    expect(p).to_have_url(re.compile(re.escape(PDF_UID)))
    pdf_url = p.locator("object.viewer").get_attribute("data")
    assert pdf_url
    pdf = p.request.get(url + pdf_url if pdf_url.startswith("/") else pdf_url)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    if shots:
        screenshot(p, f"{lang}-student-pdf")

    # opens the video and seeks in it: the browser asks for ranges and gets 206
    partial: list[Response] = []
    p.on("response", lambda r: partial.append(r) if r.status == 206 else None)
    p.goto(student_assignment_url)
    p.locator(f"a[href*='{VIDEO_UID}']").first.click()
    expect(p).to_have_url(re.compile(re.escape(VIDEO_UID)))
    seeked = p.evaluate("""async () => {
        const v = document.querySelector('video');
        v.muted = true;
        if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r,
                                                                   {once: true}));
        const target = v.duration / 2;
        await new Promise(r => { v.addEventListener('seeked', r, {once: true});
                                 v.currentTime = target; });
        return {duration: v.duration, time: v.currentTime};
    }""")
    assert seeked["duration"] > 2
    assert abs(seeked["time"] - seeked["duration"] / 2) < 0.5
    assert any(r.url.endswith(".mp4") for r in partial), "no range request for the video"
    if shots:
        screenshot(p, f"{lang}-student-video")

    # hands in a photo
    p.goto(student_assignment_url)
    p.fill("textarea[name=text]", "Il est tombé 12 mm de pluie." if lang == "fr"
           else "12 mm of rain fell.")
    p.set_input_files("#files", files=[{"name": "schema.jpg", "mimeType": "image/jpeg",
                                        "buffer": _photo(p)}])
    with p.expect_navigation():
        p.get_by_role("button", name=text["hand_in"], exact=True).click()
    expect(p.get_by_text("schema.jpg").first).to_be_visible()
    if shots:
        screenshot(p, f"{lang}-student-handed-in")

    # -- the teacher reviews the work, with the photo, and gives feedback and a mark
    t.goto(assignment_url)
    t.get_by_role("link", name=student.user.full_name).click()
    photo = t.locator("img[src*='/files/'], img.work").first
    expect(photo).to_be_visible()
    t.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                        arg=photo.element_handle())
    assert t.evaluate("(img) => img.naturalWidth", photo.element_handle()) == 320
    comment = "Très bonne mesure, bravo !" if lang == "fr" else "Great measurement, well done!"
    t.fill("#comment", comment)
    t.fill("#mark", "A+")
    with t.expect_navigation():
        t.get_by_role("button", name=text["feedback"], exact=True).click()
    expect(t.locator("#comment")).to_have_value(comment)
    if shots:
        screenshot(t, f"{lang}-teacher-review")

    # -- the student sees the feedback and the mark
    p.goto(student_assignment_url)
    feedback = p.get_by_role("region").filter(has_text=comment)
    expect(feedback).to_be_visible()
    expect(feedback).to_contain_text("A+")
    if shots:
        screenshot(p, f"{lang}-student-feedback")
