from labelmesh.audit.app import build
from labelmesh.audit.config import AuditSettings
from labelmesh.core.runner import main

main(AuditSettings, build)
