"""Style sheets, scripts and the icon under versioned URLs, cached by the browser.

Every ``url_for("static", filename=…)`` (templates, redirects) gets ``?v=<hash of the
file's bytes>``. A request whose ``v`` is the file's current hash is answered
``Cache-Control: public, max-age=31536000, immutable``: the browser keeps it for a year
and asks again only when a page names another version (the file changed, so its URL
did). Any other request — no ``v``, or the ``v`` of an older file — gets Flask's
``no-cache`` with its ETag: it is checked every time. The security headers are the
app's, as on every answer (web/__init__.py).

A static file is the same for everyone: it neither writes nor varies on the session
cookie (no ``Vary: Cookie``, which would have the browser check the file again each time
a page renews the cookie, i.e. on every page).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.security import safe_join

#: A year: the longest lifetime the HTTP caching RFC (9111) advises.
YEAR = 365 * 24 * 3600
#: 64 bits of SHA-256: enough that two versions of one file never share a URL.
DIGITS = 16

# path -> ((inode, size, mtime), hash); one entry per file, renewed when it changes.
_versions: dict[str, tuple[tuple[int, int, int], str]] = {}


def version(folder: str, filename: str) -> str | None:
    """The hash of ``filename``'s bytes under ``folder``; None when it is no file there.
    Read again only when the file's inode, size or modification time changed."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _versions.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()[:DIGITS]
    except OSError:  # a folder, or gone since the stat
        return None
    _versions[path] = (stamp, digest)
    return digest


class VaultFlask(Flask):
    """Flask, with static files versioned and cached as this module describes."""

    def send_static_file(self, filename: str) -> Response:
        folder = self.static_folder
        asked = request.args.get("v")
        current = (folder is not None and asked is not None
                   and asked == version(folder, filename))
        resp = super().send_static_file(filename)  # no-cache, ETag, Last-Modified
        if current:
            resp.cache_control.no_cache = None
            resp.cache_control.public = True
            resp.cache_control.max_age = YEAR
            resp.cache_control.immutable = True
        return resp


def add_version(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for`` hook: a static file's URL names its version."""
    if endpoint != "static" or "v" in values or "filename" not in values:
        return
    from flask import current_app

    folder = current_app.static_folder
    found = version(folder, str(values["filename"])) if folder else None
    if found is not None:
        values["v"] = found


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, left alone by static files: no cookie written and no
    ``Vary: Cookie`` when a static file's answer did not change the session (it never
    does: web/support.py's before_request returns before touching it)."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.endpoint == "static" and not session.modified:
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.url_defaults(add_version)
    app.session_interface = SessionInterface()
