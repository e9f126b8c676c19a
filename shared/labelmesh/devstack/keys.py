"""API keys for people on a running stack, made with its first admin key.

Scripts and end-to-end runs act as many annotators and reviewers; each gets
a key of their own (an organisation admin, so that any flow may run), made
once over the access service's REST API. Requests are signed as the person
their JSON body names (`annotator`, `reviewer` or `user`), else as the admin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx

from labelmesh.devstack.services import ServiceAddress, admin_key_file

ACTING_FIELDS = ("annotator", "reviewer", "user")


class StackKeys:
    def __init__(self, access_rest: str, admin_key: str) -> None:
        self.admin_key = admin_key
        self._access = access_rest
        self._keys: dict[str, str] = {}

    @classmethod
    def of(cls, addresses: Mapping[str, ServiceAddress], root: Path) -> StackKeys:
        """The keys of a stack started with `stack_env(..., root)`."""
        return cls(addresses["access"].rest, admin_key_file(root).read_text().strip())

    def key_of(self, subject: str) -> str:
        """`subject`'s own key, made on first use; the admin's for no subject."""
        if not subject:
            return self.admin_key
        if subject not in self._keys:
            self.prepare([subject])
        return self._keys[subject]

    def prepare(self, subjects: Iterable[str]) -> None:
        """Make the keys of `subjects` now, before any timed work needs them."""
        wanted = [s for s in dict.fromkeys(subjects) if s and s not in self._keys]
        if not wanted:
            return
        with httpx.Client(base_url=self._access, headers=self.headers(""), timeout=30) as admin:
            for subject in wanted:
                member = admin.put(
                    "/v1/memberships", json={"subject": subject, "roles": ["ROLE_ADMIN"]}
                )
                member.raise_for_status()
                made = admin.post("/v1/api-keys", json={"subject": subject, "name": "devstack"})
                made.raise_for_status()
                self._keys[subject] = made.json()["secret"]

    def headers(self, subject: str) -> dict[str, str]:
        credential = self.admin_key if not subject else self.key_of(subject)
        return {"Authorization": f"Bearer {credential}"}

    def sign(self, request: httpx.Request) -> None:
        """A request hook for `httpx.Client`."""
        if "authorization" not in request.headers:
            request.headers.update(self.headers(named_in_body(request)))

    async def sign_async(self, request: httpx.Request) -> None:
        """A request hook for `httpx.AsyncClient`; `prepare` the people it will meet."""
        self.sign(request)


def named_in_body(request: httpx.Request) -> str:
    """The person a request's JSON body names, or ""."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return ""
    body = json.loads(request.content or b"null")
    if isinstance(body, dict):
        for name in ACTING_FIELDS:
            if isinstance(body.get(name), str):
                return str(body[name])
    return ""
