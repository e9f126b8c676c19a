"""Every metric of the audit service, declared once."""

from prometheus_client import CollectorRegistry, Counter


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.entries = Counter(
            "labelmesh_audit_entries_total",
            "Events appended to the audit log, by producer.",
            ["producer"],
            registry=registry,
        )
        self.verifications = Counter(
            "labelmesh_audit_verifications_total",
            "Chain verifications, by result (intact, broken).",
            ["result"],
            registry=registry,
        )
