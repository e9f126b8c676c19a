"""`python -m labelmesh.audit` runs the service; `python -m labelmesh.audit verify
--project P` verifies a project's log and exits 1 if it was tampered with."""

import sys

from labelmesh.audit.app import build
from labelmesh.audit.cli import verify_command
from labelmesh.audit.config import AuditSettings
from labelmesh.core.runner import main

if len(sys.argv) > 1 and sys.argv[1] == "verify":
    sys.exit(verify_command(sys.argv[2:]))
main(AuditSettings, build)
