from labelmesh.annotation.app import build
from labelmesh.annotation.config import AnnotationSettings
from labelmesh.core.runner import main

main(AnnotationSettings, build)
