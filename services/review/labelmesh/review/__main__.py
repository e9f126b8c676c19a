from labelmesh.review.app import build
from labelmesh.review.config import ReviewSettings
from labelmesh.core.runner import main

main(ReviewSettings, build)
