"""Production password hashing parameters (the suite itself uses cheaper ones)."""

from __future__ import annotations

import pytest
from argon2 import Type


def test_production_hasher_is_argon2id_with_strong_parameters() -> None:
    from vault.services import accounts

    hasher = accounts.PRODUCTION_HASHER
    assert hasher.type is Type.ID
    assert hasher.time_cost >= 2
    assert hasher.memory_cost >= 19 * 1024  # OWASP minimum for argon2id
    digest = hasher.hash("correct horse battery staple")
    assert digest.startswith(f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost}")
    assert accounts.verify_password(digest, "correct horse battery staple")
    assert not accounts.verify_password(digest, "wrong")
    assert not accounts.verify_password("not a hash", "wrong")


def test_the_dummy_hash_costs_what_the_hasher_in_use_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unknown names burn one verification at the current parameters (made on first
    use, not at import, and again when the hasher changes)."""
    from argon2 import PasswordHasher

    from vault.services import accounts

    for hasher in (PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
                   PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)):
        monkeypatch.setattr(accounts, "_hasher", hasher)
        digest = accounts._dummy_hash()
        assert digest.startswith(f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost}")
        assert accounts._dummy_hash() == digest
        accounts.burn_password_check("anything at all")
