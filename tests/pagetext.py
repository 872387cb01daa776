"""What tests read off the app's HTML: a form's CSRF token, the enrolment page's key
and the recovery codes shown after it. Kept in one place for the web, browser and
integration tests alike, so a template change is met once."""

from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')
_RECOVERY = re.compile(r"<code>([a-z0-9-]{19})</code>")


def csrf_of(html: str, where: str = "the page") -> str:
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {where}"
    return match.group(1)


def secret_of(html: str, where: str = "the enrolment page") -> str:
    """The second factor's key as the enrolment page shows it (base32)."""
    match = _SECRET.search(html)
    assert match, f"no key on {where}"
    return match.group(1)


def recovery_codes_of(html: str) -> list[str]:
    return _RECOVERY.findall(html)
