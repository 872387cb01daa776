from __future__ import annotations

from pathlib import Path

import pytest

from vault import create_app
from vault.config import load_settings
from vault.errors import ConfigError
from vault.runtime import init_runtime


def test_app_refuses_to_start_without_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vault init"):
        create_app({"home": tmp_path})


def test_home_page_and_security_headers(tmp_path: Path) -> None:
    init_runtime(load_settings(environ={}, home=tmp_path))
    app = create_app({"home": tmp_path})
    assert app.config["SECRET_KEY"] == (tmp_path / "keys" / "secret.key").read_text().strip()
    resp = app.test_client().get("/")
    assert resp.status_code == 200
    assert "保密文件库" in resp.get_data(as_text=True)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    app.extensions["vault.engine"].dispose()
