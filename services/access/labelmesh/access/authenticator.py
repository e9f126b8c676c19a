"""The access service authenticates its own callers without asking itself."""

from __future__ import annotations

from labelmesh.access.usecases import Access
from labelmesh.core.access import Principal


class LocalAuthenticator:
    def __init__(self, access: Access) -> None:
        self.access = access

    async def authenticate(self, credential: str) -> Principal:
        return (await self.access.authenticate(credential)).principal

    async def close(self) -> None:
        return None
