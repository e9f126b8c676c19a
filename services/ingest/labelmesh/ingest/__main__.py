from labelmesh.ingest.app import build
from labelmesh.ingest.config import IngestSettings
from labelmesh.core.runner import main

main(IngestSettings, build)
