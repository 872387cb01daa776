"""Production password hashing parameters (the suite itself uses cheaper ones)."""

from __future__ import annotations

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
