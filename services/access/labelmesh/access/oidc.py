"""OIDC bearer tokens: JWTs checked against the issuer's published keys (JWKS).

PyJWT's `PyJWKClient` keeps the key set and fetches it again when a token
names a key id it has not seen, which is how an issuer's key rotation reaches
us. Fetching and checking are blocking calls; callers run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from labelmesh.core.errors import Unauthenticated

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
JWKS_KEEP_SECONDS = 300
JWKS_FETCH_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Claims:
    subject: str
    expires_at: float


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        subject_claim: str,
        leeway: int,
        refetch_after_seconds: float,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.subject_claim = subject_claim
        self.leeway = leeway
        # An unknown key id fetches the set again, at most once per
        # `refetch_after_seconds`: tokens with made-up key ids cannot flood the issuer.
        self._keys = jwt.PyJWKClient(
            jwks_url,
            cache_keys=True,
            lifespan=JWKS_KEEP_SECONDS,
            timeout=JWKS_FETCH_TIMEOUT_SECONDS,
            cooldown_duration=refetch_after_seconds,
        )

    def verify(self, token: str) -> Claims:
        """The checked claims of `token`; raises Unauthenticated naming what failed."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", self.subject_claim]},
            )
        except jwt.PyJWKClientConnectionError:
            raise Unauthenticated("the token issuer's keys cannot be fetched") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"bearer token refused: {exc}") from None
        subject = claims[self.subject_claim]
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated(f"bearer token refused: claim {self.subject_claim!r} is empty")
        return Claims(subject, float(claims["exp"]))
