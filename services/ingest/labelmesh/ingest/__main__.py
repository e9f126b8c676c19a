from labelmesh.core.runner import main
from labelmesh.ingest.app import build
from labelmesh.ingest.config import IngestSettings

main(IngestSettings, build)
