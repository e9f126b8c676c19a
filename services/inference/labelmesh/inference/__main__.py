from labelmesh.inference.app import build
from labelmesh.inference.config import InferenceSettings
from labelmesh.core.runner import main

main(InferenceSettings, build)
