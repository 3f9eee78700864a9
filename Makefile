# Two entry points for newcomers: `make demo` and `make test`. Both build the pinned venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= sop-demo

.PHONY: demo test lint typecheck unit integration bench bench-m3 bench-competitions bench-stages bench-memory bench-cli docs readme prefect-yaml clean venv

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
	$(BIN)/mypy forecasting reconciliation data_contracts reporting sample_data flows

unit: $(STAMP)
	$(BIN)/pytest -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -m integration

test: lint typecheck
	$(BIN)/pytest

docs: $(STAMP)
	$(BIN)/python -m data_contracts.docs > docs/contracts.md

# The README's demo figures, from a fresh demo and the README's what-if on it.
readme: demo
	$(BIN)/sop whatif --base 2026-12 --scenario examples/scenario-promo.yaml --out $(DEMO_DIR)
	$(BIN)/python -m docs.readme_figures $(DEMO_DIR)

# prefect.yaml is generated from the deployments `sop deploy` registers (a test checks it).
prefect-yaml: $(STAMP)
	$(BIN)/python -m flows.deploy --write-yaml prefect.yaml

# Each benchmark rewrites its own section of docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.contracts
	$(BIN)/python -m benchmarks.capacity
	$(BIN)/python -m benchmarks.lot_sizing
	$(BIN)/python -m benchmarks.report
	$(BIN)/python -m benchmarks.store_keys

# sop --help, a missing inputs folder and bad config files, against `python -c "import typer"`.
bench-cli: $(STAMP)
	$(BIN)/python -m benchmarks.cli_startup

bench-m3: $(STAMP)
	$(BIN)/python -m benchmarks.m3

# M1 (horizon 18) and Tourism (horizon 24) monthly, test and validation split, same scoring as M3.
bench-competitions: $(STAMP)
	$(BIN)/python -m benchmarks.competitions

# The recorded run: 10k and 100k series on a local 2-worker Dask cluster (about 2.5 h on the 2-core benchmark machine).
# Quicker look: make bench-stages STAGE_SIZES=1k,10k STAGE_ENGINE=local
STAGE_SIZES ?= 10k,100k
STAGE_ENGINE ?= dask
bench-stages: $(STAMP)
	$(BIN)/python -m benchmarks.generate --sizes $(STAGE_SIZES) --out benchmarks/results/data
	$(BIN)/python -m benchmarks.stages --sizes $(STAGE_SIZES) --engine $(STAGE_ENGINE) \
		--data benchmarks/results/data --json benchmarks/results/stages.json

# Peak memory per stage at 100k in about 15 min: the real run with stand-in models
# (benchmarks/stages.py, stand_in_models), so fitting does not take hours.
bench-memory: $(STAMP)
	$(BIN)/python -m benchmarks.generate --sizes 100k --out benchmarks/results/data
	$(BIN)/python -m benchmarks.stages --sizes 100k --engine dask --stand-in-models \
		--data benchmarks/results/data --json benchmarks/results/memory.json

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
