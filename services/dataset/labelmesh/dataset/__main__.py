from labelmesh.core.runner import main
from labelmesh.dataset.app import build
from labelmesh.dataset.config import DatasetSettings

main(DatasetSettings, build)
