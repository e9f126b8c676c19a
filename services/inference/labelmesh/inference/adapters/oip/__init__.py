"""Models served elsewhere (Triton, KServe, MLServer, BentoML) and reached over
the Open Inference Protocol, also known as KServe v2, by REST or by gRPC.

A named preprocess turns each item into one input tensor, and a named
postprocess turns the output tensor into labels. Both transports send and read
the same tensors, so they produce the same labels.
"""

from labelmesh.inference.adapters.oip.model import RemoteOipModel
from labelmesh.inference.adapters.oip.transport import RemoteModelError
from labelmesh.inference.adapters.oip.validation import InvalidRemoteModel

__all__ = ["InvalidRemoteModel", "RemoteModelError", "RemoteOipModel"]
