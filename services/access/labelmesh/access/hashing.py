"""API key secrets as argon2id hashes, with the deployment's pepper mixed in first."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# A key's secret is 256 random bits, not a password a person chose: no guessing
# gets near it, so argon2 need not be slow here. Its defaults (64 MiB, three
# passes, ~80 ms) made 50 annotators' first requests queue for seconds.
TIME_COST, MEMORY_KIB, PARALLELISM = 1, 8 * 1024, 1


class KeyHasher:
    """Hashes and checks key secrets with argon2id; callers run both off the
    event loop."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()
        self._argon2 = PasswordHasher(
            time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM
        )

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
