"""Behind a load balancer (docs/deploy.md): with VAULT_PROXY_HOPS=N the client's address
on the trail comes from the last N X-Forwarded-For hops; with 0 the header is ignored."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from webtools import sign_in  # noqa: I001 - tests/web/webtools.py

from vault import create_app
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.services.context import Infra

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_audit_log.py.
DATABASES = ("sqlite",)


@pytest.mark.parametrize("hops, forwarded, expected", [
    (0, "203.0.113.7", "127.0.0.1"),  # no proxy trusted: a client's header is ignored
    (1, "203.0.113.7", "203.0.113.7"),
    (1, "198.51.100.9, 203.0.113.7", "203.0.113.7"),  # a forged first hop is not believed
    (2, "198.51.100.9, 203.0.113.7", "198.51.100.9"),
])
def test_the_client_address_comes_from_trusted_hops_only(
        org: Infra, hops: int, forwarded: str, expected: str) -> None:
    s = org.settings
    app = create_app({"home": s.home, "database_url": s.database_url, "proxy_hops": hops,
                      "flask": {"TESTING": True}})
    try:
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
        assert sign_in(client, "clerk", "wrong password!") == 401
    finally:
        app.extensions["vault.engine"].dispose()
    with org.sessions() as session:
        sources = list(session.scalars(select(AuditEvent.source).where(
            AuditEvent.action == Action.AUTH_SIGN_IN_FAILED.value)))
    assert sources == [expected]
