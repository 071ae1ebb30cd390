"""Password hashing with argon2id (argon2-cffi's maintained defaults), and generated passwords.

A hash records its own parameters, so raising them later only means rehashing at the next sign-in
(`needs_rehash`). Unknown account names still cost one verification (`burn`), so timing does not
tell which names exist.
"""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a hostile sign-in from hashing megabytes
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("formcast-timing-equalizer")


class PasswordError(ValueError):
    """A password that may not be set, with what would be valid."""


def check_strength(password: str, account: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password is {len(password)} characters: use at least {MIN_LENGTH}")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password is longer than {MAX_LENGTH} characters")
    if password.strip().lower() == account.lower():
        raise PasswordError("the password may not be the account name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a mismatch, a missing or a corrupt hash."""
    if stored_hash is None or len(password) > MAX_LENGTH:
        burn()
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def burn() -> None:
    """Spend one verification, so an unknown account answers as slowly as a wrong password."""
    with contextlib.suppress(VerifyMismatchError):
        _HASHER.verify(_DUMMY, "not-the-password")


def generate() -> str:
    """A random password for new accounts: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)
