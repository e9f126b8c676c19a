"""API key secrets as argon2id hashes, with the deployment's pepper mixed in first."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class KeyHasher:
    """Hashes and checks key secrets. Both cost tens of milliseconds of CPU on
    purpose; callers run them off the event loop."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()
        self._argon2 = PasswordHasher()

    def _peppered(self, secret: str) -> bytes:
        if not self._pepper:
            return secret.encode()
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest().encode()

    def hash(self, secret: str) -> str:
        return self._argon2.hash(self._peppered(secret))

    def matches(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._argon2.verify(secret_hash, self._peppered(secret))
        except (VerificationError, InvalidHashError):
            return False
