from labelmesh.core.runner import main
from labelmesh.inference.app import build
from labelmesh.inference.config import InferenceSettings

main(InferenceSettings, build)
