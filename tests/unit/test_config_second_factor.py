"""The ``require_2fa_roles`` setting: read from VAULT_REQUIRE_2FA_ROLES, "none" for
nobody, unknown roles refused at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.config import load_settings
from vault.errors import ConfigError


def test_default_and_environment(tmp_path: Path) -> None:
    default = load_settings(environ={}, home=tmp_path)
    assert default.second_factor_roles == {"hq_executive", "company_gm", "compliance", "admin"}
    custom = load_settings(environ={"VAULT_REQUIRE_2FA_ROLES": " staff , admin,"}, home=tmp_path)
    assert custom.second_factor_roles == {"staff", "admin"}
    none = load_settings(environ={"VAULT_REQUIRE_2FA_ROLES": "none"}, home=tmp_path)
    assert none.second_factor_roles == frozenset()


def test_unknown_roles_are_refused_at_start(tmp_path: Path) -> None:
    settings = load_settings(environ={"VAULT_SECRET_KEY": "x" * 32,
                                      "VAULT_REQUIRE_2FA_ROLES": "admin,wizard"}, home=tmp_path)
    (tmp_path / "keys").mkdir()
    with pytest.raises(ConfigError, match="wizard") as err:
        settings.check()
    assert err.value.code == "bad_setting"
    load_settings(environ={"VAULT_SECRET_KEY": "x" * 32, "VAULT_REQUIRE_2FA_ROLES": "none"},
                  home=tmp_path).check()
