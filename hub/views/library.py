"""The library: browse and search the installed packs, open a resource in its viewer, and
serve the pack files (in production nginx serves /library/files/ itself, see
docs/decisions.md).

Rules live in `content_packs` (catalogue, search, safe file lookup) and `hub.progress`;
these views read the request and choose what to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from content_packs import (
    CYCLES,
    KIND_LABELS,
    SUBJECTS,
    active_pack,
    check_filters,
    facets,
    find_resources,
    get_resource,
    resource_files,
    served_file,
    zim,
)
from hub import access, db, progress
from hub.i18n import current_lang
from hub.models import ProgressKind, Role

bp = Blueprint("library", __name__, url_prefix="/library")

PAGE_SIZE = 30
FILE_MAX_AGE = 300

# Pack files run in an opaque origin: they cannot read the hub's cookies, pages or API,
# even when opened directly. Activities may use their own inline scripts and styles and
# the pack's files, and nothing else.
SANDBOX_CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "media-src 'self' data: blob:; font-src 'self' data:; connect-src 'none'; "
               "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")
# Browsers' PDF viewers refuse to run in a sandbox; they do not give the PDF the hub's origin.
UNSANDBOXED_TYPES = frozenset({"application/pdf"})


def _labels() -> dict[str, Any]:
    return {"subject_labels": SUBJECTS, "cycle_labels": CYCLES, "kind_labels": KIND_LABELS}


def _listing(template: str) -> Any:
    args = request.args
    filters = check_filters(args.get("subject"), args.get("cycle"), args.get("language"),
                            args.get("kind"))
    query = args.get("q", "").strip()
    try:
        offset = max(0, int(args.get("offset", "0")))
    except ValueError:
        offset = 0
    session = db.session()
    page = find_resources(session, query, filters, limit=PAGE_SIZE, offset=offset)
    articles = (zim.search_library(session, _data_dir(), query)
                if query and not offset and filters.kind in (None, "zim") else [])
    return render_template(template, page=page, filters=filters, query=query,
                           facets=facets(session), lang=current_lang(), articles=articles,
                           **_labels())


def _data_dir() -> Path:
    return Path(current_app.extensions["ardoise.settings"].data_dir)


@bp.get("/")
@access.signed_in
def index() -> Any:
    return _listing("library/index.html")


@bp.get("/search")
@access.signed_in
def search() -> Any:
    return _listing("library/index.html")


@bp.get("/r/<path:uid>")
@access.signed_in
def resource(uid: str) -> Any:
    session = db.session()
    res = get_resource(session, uid)
    files = resource_files(session, res)
    pack = active_pack(session, res.pack_id)
    finished = False
    if g.user.role == Role.STUDENT:
        progress.record_progress(session, g.user, res.uid, ProgressKind.OPENED)
        session.commit()
        finished = progress.has_finished(session, g.user, res.uid)
    article = request.args.get("article", "")
    if res.kind == "zim":
        archive = zim.archive_for(session, _data_dir(), res.pack_id, res.resource_id)
        if archive is None:
            abort(404)
        start = article if article and zim.article(archive, article) else None
        viewer = url_for("library.zim_article", pack_id=res.pack_id,
                         resource_id=res.resource_id, path=start) if start else url_for(
            "library.zim_home", pack_id=res.pack_id, resource_id=res.resource_id)
    else:
        viewer = None
    return render_template("library/resource.html", res=res, entry=files.get(res.entry),
                           pack=pack, finished=finished, lang=current_lang(),
                           zim_viewer=viewer, **_labels())


@bp.get("/r/<path:uid>/search")
@access.signed_in
def zim_search(uid: str) -> Any:
    """Articles of a ZIM resource (an offline encyclopedia) matching the query."""
    session = db.session()
    res = get_resource(session, uid)
    archive = zim.archive_for(session, _data_dir(), res.pack_id, res.resource_id)
    if archive is None:
        abort(404)
    query = request.args.get("q", "").strip()[:200]
    total, hits = zim.search(archive, query, 50) if query else (0, [])
    return render_template("library/zim_search.html", res=res, query=query, total=total,
                           hits=hits, lang=current_lang(), **_labels())


def _zim_response(pack_id: str, resource_id: str, path: str) -> Response:
    archive = zim.archive_for(db.session(), _data_dir(), pack_id, resource_id)
    if archive is None:
        abort(404)
    found = zim.article(archive, path)
    if found is None:
        abort(404)
    if isinstance(found, str):  # a redirect inside the archive
        return redirect(url_for("library.zim_article", pack_id=pack_id,
                                resource_id=resource_id, path=found))
    response = Response(found.content, mimetype=found.mimetype)
    response.cache_control.private = True
    response.cache_control.max_age = FILE_MAX_AGE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


@bp.get("/zim/<pack_id>/<resource_id>/")
@access.public
def zim_home(pack_id: str, resource_id: str) -> Any:
    """The archive's main page. Public and sandboxed, like pack files (see `file`)."""
    archive = zim.archive_for(db.session(), _data_dir(), pack_id, resource_id)
    main = zim.main_path(archive) if archive is not None else None
    if main is None:
        abort(404)
    return redirect(url_for("library.zim_article", pack_id=pack_id, resource_id=resource_id,
                            path=main))


@bp.get("/zim/<pack_id>/<resource_id>/<path:path>")
@access.public
def zim_article(pack_id: str, resource_id: str, path: str) -> Response:
    """One article (or image, style...) of a ZIM archive; relative links between articles
    keep working because the archive's paths are kept in the URL."""
    return _zim_response(pack_id, resource_id, path)


@bp.post("/progress")
@access.roles(Role.STUDENT)
def record() -> Any:
    """The "I've finished" button (a form, so it works without JavaScript)."""
    uid = request.form.get("resource_uid", "")
    session = db.session()
    progress.record_progress(session, g.user, uid, request.form.get("kind", "finished"))
    session.commit()
    flash(_("Well done! Your teacher will see that you finished it."), "success")
    return redirect(url_for("library.resource", uid=uid))


def file_url(pack_id: str, path: str) -> str:
    return url_for("library.file", pack_id=pack_id, path=path)


@bp.get("/files/<pack_id>/<path:path>")
@access.public
def file(pack_id: str, path: str) -> Response:
    """A file of the active version of a pack, with range requests (seeking in audio and
    video) and validators (ETag = the file's SHA-256).

    Public on purpose: an activity runs sandboxed in an opaque origin, so the browser
    sends no session cookie with the requests for its images and scripts; and in
    production nginx serves these files without asking the app. Packs hold openly
    licensed content, never personal data (docs/decisions.md)."""
    data_dir = Path(current_app.extensions["ardoise.settings"].data_dir)
    found = served_file(db.session(), data_dir, pack_id, path)
    if found is None:
        abort(404)
    download = request.args.get("download") == "1"
    try:
        response = send_file(found.path, mimetype=found.media_type, conditional=True,
                             etag=found.sha256, max_age=FILE_MAX_AGE, as_attachment=download,
                             download_name=path.rsplit("/", 1)[-1])
    except RequestedRangeNotSatisfiable:
        # Answered here: the app's error pages would drop the Content-Range players need.
        return Response(status=416, headers={"Content-Range": f"bytes */{found.size}",
                                             "X-Content-Type-Options": "nosniff"})
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    if found.media_type.split(";")[0] not in UNSANDBOXED_TYPES:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.app_template_global("library_file_url")
def library_file_url(pack_id: str, path: str, download: bool = False) -> str:
    if download:
        return url_for("library.file", pack_id=pack_id, path=path, download="1")
    return file_url(pack_id, path)
