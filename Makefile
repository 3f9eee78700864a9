# Two entry points for newcomers: `make demo` and `make test`. Both build the pinned venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= sop-demo

.PHONY: demo test lint typecheck unit integration bench bench-m3 bench-stages docs clean venv

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sop demo --out $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy forecasting reconciliation data_contracts reporting sample_data

unit: $(STAMP)
	$(BIN)/pytest -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -m integration

test: lint typecheck
	$(BIN)/pytest

docs: $(STAMP)
	$(BIN)/python -m data_contracts.docs > docs/contracts.md

# Each benchmark rewrites its own section of docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.contracts
	$(BIN)/python -m benchmarks.capacity
	$(BIN)/python -m benchmarks.report

bench-m3: $(STAMP)
	$(BIN)/python -m benchmarks.m3

bench-stages: $(STAMP)
	$(BIN)/python -m benchmarks.generate --sizes 1k,10k --out benchmarks/results/data
	$(BIN)/python -m benchmarks.stages --sizes 1k,10k --data benchmarks/results/data

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
