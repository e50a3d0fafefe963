# sweeprunner: install, test, lint, smoke runs and benchmarks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ORACLE := .venv-wandb
PYTEST := $(BIN)/python -m pytest

.PHONY: install browser oracle test test-slow lint smoke smoke-image smoke-nlp cluster-smoke bench bench-gpu clean

install: ## Create .venv with sweeprunner, its pinned dependencies and the dev tools; plus the W&B oracle venv.
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(MAKE) oracle

browser: ## Headless Chromium for the report's browser test (Debian's package; needs root or sudo).
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

oracle: $(ORACLE)/bin/python ## W&B's own sweep engine (PyPI sweeps==0.3.0, needs numpy<2) in its own venv.

$(ORACLE)/bin/python:
	$(PYTHON) -m venv $(ORACLE)
	$(ORACLE)/bin/python -m pip install --quiet 'sweeps==0.3.0'

test: ## The test suite (CPU only; a shared Ray session).
	$(PYTEST) -q -m "not slow"

test-slow: ## Long tests: cluster rehearsal and end-to-end smoke sweeps.
	$(PYTEST) -q -m slow

lint:
	$(BIN)/ruff check sweeprunner tests bench cluster

smoke: smoke-image smoke-nlp ## Both smoke sweeps (about 1 min each on 2 CPUs, offline).

smoke-image: ## Digits + simple_cnn image sweep with hyperband, on CPU.
	$(BIN)/python -m sweeprunner run recipes/smoke-image.yaml --num-cpus 2

smoke-nlp: ## Tiny local BERT + generated sentiment set with hyperband, on CPU.
	$(BIN)/python -m sweeprunner run recipes/smoke-nlp.yaml --num-cpus 2

cluster-smoke: ## Local rehearsal of the GPU cluster workflow (fake autoscaling GPU nodes, token auth, job API).
	$(BIN)/python cluster/rehearse.py

bench: oracle ## Benchmarks -> docs/benchmarks.md (about 45-60 min on 2 idle cores).
	mkdir -p bench/results
	$(BIN)/python bench/wandb_baseline.py --json bench/results/wandb.json
	$(BIN)/python bench/search_quality.py
	$(BIN)/python bench/early_termination.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/suggest_latency.py
	$(BIN)/python bench/report_size.py
	$(BIN)/python bench/report.py

bench-gpu: ## GPU packing (needs an NVIDIA GPU; no Ray needed).
	$(BIN)/python bench/gpu_packing.py

clean:
	rm -rf sweeps .pytest_cache .ruff_cache
