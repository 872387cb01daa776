"""Helpers every view uses: one unit of work per request, the locale, the actor."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request, session
from flask_babel import get_translations, lazy_gettext
from flask_login import current_user, logout_user

from vault.config import Settings
from vault.errors import VaultError
from vault.services import menu as menu_service
from vault.services.context import Infra, unit_of_work

LOCALES = ("zh_CN", "en")
log = logging.getLogger(__name__)


def infra() -> Infra:
    return current_app.extensions["vault.infra"]


def settings() -> Settings:
    return infra().settings


def work(actor: str | None = None) -> Any:
    """A unit of work for the signed-in person (or ``actor``), stamped with the
    request's source address and id for the audit trail."""
    name = actor if actor is not None else (
        current_user.username if current_user.is_authenticated else None
    )
    return unit_of_work(infra(), name, source=request.remote_addr, request_id=g.request_id)


def coalesce(chunks: Iterator[bytes], size: int = 1024 * 1024) -> Iterator[bytes]:
    """Join verified segments into ~1 MiB writes: far fewer trips through the WSGI
    server per gigabyte, for one extra copy."""
    buf: list[bytes] = []
    held = 0
    for chunk in chunks:
        buf.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(buf)
            buf, held = [], 0
    if buf:
        yield b"".join(buf)


def select_locale() -> str:
    """Chinese first: the group works in zh-CN, so pages are Chinese until the
    person picks English with the switch on every page (kept in the session),
    whatever language the browser happens to advertise."""
    chosen = session.get("lang")
    if chosen in LOCALES:
        return str(chosen)
    return "zh_CN"


def before_request() -> None:
    g.request_id = uuid.uuid4().hex[:16]
    # A style sheet, a script or the icon is the same for everyone and is not the
    # person's activity: no reading of the signed-in person (one database read per
    # file, several per page) and no moving of the idle timer.
    if request.endpoint == "static":
        return
    if not current_user.is_authenticated:
        return
    # Idle and absolute timeouts; the session cookie is signed, so these can't be forged.
    now = time.time()
    conf = settings()
    started = float(session.get("started", 0))
    last = float(session.get("last", 0))
    if (now - last > conf.session_idle_minutes * 60
            or now - started > conf.session_max_hours * 3600):
        logout_user()
        session.clear()
        return
    session["last"] = now


def translations() -> Any:
    """The page's catalogue, looked up once per request. Flask-Babel finds the locale
    and the domain through the request context again for every string a template
    translates (a few dozen a page); both are fixed for the request once chosen (it
    keeps them in the request context itself), so the catalogue it answers is too."""
    found = g.get("vault_translations")
    if found is None:
        found = g.vault_translations = get_translations()
    return found


def install_gettext(app: Any) -> None:
    """Templates translate through `translations` (what Flask-Babel installs, without
    the lookups per string)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def template_globals() -> dict[str, Any]:
    from vault.policy import LEVEL_LABELS

    here = lang()
    items = nav_items()
    return {"current_lang": here, "level_labels": LEVEL_LABELS[here], "menu": menu,
            "nav_groups": nav_groups(items), "personal_nav": personal_nav(items)}


def menu() -> menu_service.Menu:
    """What the menu needs for the signed-in person: one service call per request,
    made the first time the menu asks (a page image or a download never does)."""
    cached = g.get("vault_menu")
    if cached is not None:
        return cast(menu_service.Menu, cached)
    facts = menu_service.NOTHING
    if current_user.is_authenticated:
        try:
            facts = menu_service.menu(infra(), int(current_user.id))
        except Exception:  # noqa: BLE001 - the menu must not turn an error page into a 500
            log.warning("menu facts unavailable", exc_info=True)
    g.vault_menu = facts
    return facts


# Areas add their entries here when they register: (endpoint, label, who sees it) —
# None for everyone, else the name of a `services.menu.Menu` flag (decided by policy).
NAV: list[tuple[str, Any, str | None]] = []
# Content first, then the offices, then the person's own settings — whatever
# order the area modules happen to be imported in.
NAV_ORDER = ("documents.index", "search.index", "documents.new", "copies.index",
             "copies.copy_register",
             "tenants.index", "service.requests_index", "service.visits_index",
             "service.deposits_index", "letters.index", "recordings.index", "review.index",
             "certificates.index", "leaks.index",
             "dashboards.compliance", "compliance.trail", "admin.index", "letters.templates",
             "leaks.new", "dashboards.executive", "copies.inbox", "auth.security",
             "tokens.index")

# The menu is grouped by task (文件 / 审批 / 登记簿 / 档案 / 合规 / 管理); the person's
# own settings sit beside their name. An endpoint no group names (an area added
# later) lands in "files" until it is given a group here.
NAV_GROUPS: tuple[tuple[str, Callable[[], Any]], ...] = (
    ("files", lambda: lazy_gettext("Files")),
    ("approvals", lambda: lazy_gettext("Approvals")),
    ("registers", lambda: lazy_gettext("Registers")),
    ("archives", lambda: lazy_gettext("Archives")),
    ("compliance", lambda: lazy_gettext("Oversight")),
    ("admin", lambda: lazy_gettext("Management")),
)
NAV_GROUP_OF: dict[str, str] = {
    "documents.index": "files", "documents.new": "files", "search.index": "files",
    "copies.inbox": "approvals", "copies.index": "approvals",
    "copies.copy_register": "registers",
    "tenants.index": "archives", "recordings.index": "archives",
    "service.requests_index": "archives", "service.visits_index": "archives",
    "service.deposits_index": "registers",
    "letters.index": "files", "letters.templates": "admin",
    "certificates.index": "archives",
    "review.index": "compliance", "leaks.new": "compliance", "leaks.index": "compliance",
    "compliance.trail": "compliance", "dashboards.compliance": "compliance",
    "dashboards.executive": "approvals",
    "admin.index": "admin",
    "auth.security": "personal", "tokens.index": "personal",
}


def nav_items() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    entries = sorted(NAV, key=lambda e: NAV_ORDER.index(e[0]) if e[0] in NAV_ORDER else 99)
    return [(endpoint, str(label())) for endpoint, label, shown in entries
            if shown is None or getattr(menu(), shown)]


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[tuple[str, str], ...]
    current: bool


def nav_groups(items: list[tuple[str, str]]) -> list[NavGroup]:
    """The person's menu entries (`nav_items`) in their task groups (empty groups left
    out); the group holding the page being shown (or its area) is marked current."""
    here = request.endpoint or ""
    area = here.split(".")[0]
    current = next((NAV_GROUP_OF.get(e, "files") for e, _t in items if e == here),
                   next((NAV_GROUP_OF.get(e, "files") for e, _t in items
                         if e.split(".")[0] == area), None))
    groups = []
    for key, label in NAV_GROUPS:
        mine = tuple((e, t) for e, t in items if NAV_GROUP_OF.get(e, "files") == key)
        if mine:
            groups.append(NavGroup(key, str(label()), mine, key == current))
    return groups


def personal_nav(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(e, t) for e, t in items if NAV_GROUP_OF.get(e) == "personal"]


F = TypeVar("F", bound=Callable[..., Any])


def lang() -> str:
    """The page language as the services name it: "en" or "zh"."""
    return "en" if select_locale() == "en" else "zh"


def messages(table: Mapping[str, Any], fallback: Callable[[VaultError], str]
             ) -> Callable[[VaultError], str]:
    """An area's ``message_of``: its own text for an error's code (``table``, lazy
    translations), else what ``fallback`` (another area's) says."""

    def message_of(exc: VaultError) -> str:
        text = table.get(exc.code)
        return str(text) if text is not None else fallback(exc)

    return message_of


def translating(message_of: Callable[[VaultError], str]) -> Callable[[F], F]:
    """A view decorator that re-raises service refusals with their message in the
    reader's language (``message_of`` maps an error's code to the area's text)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except VaultError as exc:
                exc.message = message_of(exc)
                raise

        return cast(F, wrapper)

    return decorate


def refuse_head() -> None:
    """Answer HEAD with 405 on a route that releases content. Flask serves HEAD with
    the GET view, which would write a download event (or spend a one-time approval)
    although no byte leaves."""
    if request.method == "HEAD":
        from werkzeug.exceptions import MethodNotAllowed

        raise MethodNotAllowed(valid_methods=["GET"])
