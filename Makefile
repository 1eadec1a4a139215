# Everything a fresh machine needs: `make run` and `make test` create .venv and install it all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint format index eval bench clean pg-binaries

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# CPU torch first, or sentence-transformers pulls several GB of CUDA wheels.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

index: $(STAMP)
	$(BIN)/kneebot build-index --if-stale

run: index
	$(BIN)/kneebot run

# The test session starts its own PostgreSQL server (tests/support/postgres.py); it needs the
# server binaries: Debian's package when initdb is missing, PyPI's pgserver where apt cannot run.
pg-binaries:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) || \
		$(BIN)/pip install pgserver

test: index pg-binaries
	$(BIN)/ruff format --check bot tests
	$(BIN)/ruff check bot tests
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format bot tests
	$(BIN)/ruff check --fix bot tests

eval: index
	$(BIN)/kneebot eval

bench: index
	$(BIN)/kneebot bench

clean:
	rm -rf $(VENV) index/*.faiss index/*.json index/model.onnx* data
