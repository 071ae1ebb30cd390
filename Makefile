# Formcast — one command to run, one to test. Java 17 is the only prerequisite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
export FORMCAST_HOME ?= $(CURDIR)/.formcast

.PHONY: run test install dev lint bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

dev: $(DEVSTAMP)

run: $(STAMP)
	$(BIN)/formcast demo
	$(BIN)/formcast run examples/daily_active_users.json --date 2024-06-02 --preview 10
	$(BIN)/formcast ui

test: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(DEVSTAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/compile_bench.py
	$(BIN)/python benchmarks/lineage_bench.py

clean:
	rm -rf $(VENV) .formcast *.egg-info .pytest_cache .ruff_cache
