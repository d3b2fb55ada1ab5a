# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# After installing, the routing search is compiled into numba's on-disk cache
# (`codist warm-up`), so that no solve spends its time limit compiling.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/codist warm-up
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/codist warm-up
	touch $@ $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/codist network info
	$(BIN)/codist network info --json > out/network.json
	$(BIN)/codist plan --out out
	@echo "Outputs written to out/: summary.json, unassigned.json, route-sheets/ (all.html to print)"

test: $(DEV_STAMP)
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/network_bench.py

clean:
	rm -rf $(VENV) out data/road_network/.cache
