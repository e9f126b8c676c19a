from labelmesh.core.runner import main
from labelmesh.review.app import build
from labelmesh.review.config import ReviewSettings

main(ReviewSettings, build)
