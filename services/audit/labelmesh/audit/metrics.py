"""Every metric of the audit service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram


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
            "Chain and project verifications, by result (intact, broken).",
            ["result"],
            registry=registry,
        )
        self.checkpoints = Counter(
            "labelmesh_audit_checkpoints_total",
            "Project checkpoints written.",
            registry=registry,
        )
        self.exported = Counter(
            "labelmesh_audit_exported_entries_total",
            "Entries streamed out by exports and StreamAuditLog, by format (jsonl, csv, grpc).",
            ["format"],
            registry=registry,
        )
        self.query_seconds = Histogram(
            "labelmesh_audit_query_duration_seconds",
            "Time to answer one page of an audit query.",
            registry=registry,
        )
