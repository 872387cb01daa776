"""Cryptography: the stored file format (`envelope`) and master keys (`keyring`).

No database and no Flask here; services call these with explicit keys and ids.
"""

from vault.crypto.envelope import EncryptResult, EnvelopeError, new_data_key

__all__ = ["EncryptResult", "EnvelopeError", "new_data_key"]
