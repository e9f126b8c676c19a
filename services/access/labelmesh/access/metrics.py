"""Every metric of the access service, declared once."""

from prometheus_client import CollectorRegistry, Counter


class AccessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.authentications = Counter(
            "labelmesh_access_authentications_total",
            "Credentials checked, by kind (api_key, oidc) and result (ok, refused).",
            ["kind", "result"],
            registry=registry,
        )
        self.key_changes = Counter(
            "labelmesh_access_key_changes_total",
            "API keys created or revoked, by change.",
            ["change"],
            registry=registry,
        )
        self.membership_changes = Counter(
            "labelmesh_access_membership_changes_total",
            "Memberships set or removed.",
            registry=registry,
        )
