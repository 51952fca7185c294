# cachetrace developer tasks. Everything runs in .venv (made on first use).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv engine engine-down test test-fast lint types imports check protos protos-check bench demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

engine:
	bash scripts/engine.sh up

engine-down:
	bash scripts/engine.sh down

# README's test command: sets up everything (venv, engine, base images) and runs every test.
test: $(STAMP) engine
	$(BIN)/python -m pytest

# Unit tests only: no engine.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not engine'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

check: lint types imports test

# Benchmarks write their results to bench/RESULTS-*.md (see each script's docstring).
bench: $(STAMP) engine
	$(BIN)/python -m bench.layer_scan
	$(BIN)/python -m bench.graph_scale
	$(BIN)/python -m bench.record_overhead

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# README's main-job command: record the bundled example on the engine, show what was found.
demo: $(STAMP)
	bash scripts/demo.sh

schema: $(STAMP)
	$(BIN)/python -m cachetrace.capture_io.schema > docs/capture.schema.json

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python -m pytest -q tests/buildkit/test_protos_fresh.py
