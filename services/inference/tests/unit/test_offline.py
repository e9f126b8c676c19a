"""Every built-in model loads and predicts with the network closed: the
weights ship inside the installed packages and nothing is fetched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SPEECH = Path(__file__).parents[1] / "data" / "speech.wav"

# Runs in a fresh interpreter, so that no model is already loaded.
SCRIPT = """
import io, json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network closed by the test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from PIL import Image
from skimage import data
from labelmesh.inference.models.base import ModelInput
from labelmesh.inference.models.catalog import built_in_models

buffer = io.BytesIO()
Image.fromarray(data.astronaut()).save(buffer, format="PNG")
inputs = {
    1: ModelInput(text="Angela Merkel loved the match in Berlin.", classes=("sports", "politics")),
    2: ModelInput(media=buffer.getvalue(), content_type="image/png"),
    3: ModelInput(media=open(sys.argv[1], "rb").read(), content_type="audio/wav"),
}
results = {}
for model in built_in_models():
    model.load()
    labels = model.predict([model.prepare(inputs[model.spec.data_type])])[0]
    results[model.spec.id] = len(labels)
print(json.dumps(results))
"""


def test_every_built_in_model_runs_with_the_network_closed() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SPEECH)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    labels = json.loads(finished.stdout.strip().splitlines()[-1])
    assert set(labels) == {
        "all-minilm-l6-v2-zero-shot",
        "vader-sentiment",
        "spacy-en-core-web-sm-ner",
        "mediapipe-face-detection",
        "mediapipe-selfie-segmentation",
        "mediapipe-pose",
        "efficientnet-lite0-imagenet",
        "whisper-tiny-en",
        "silero-vad",
    }
    assert all(count > 0 for count in labels.values()), labels
