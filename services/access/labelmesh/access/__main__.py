from labelmesh.access.app import build
from labelmesh.access.config import AccessSettings
from labelmesh.core.runner import main

main(AccessSettings, build)
