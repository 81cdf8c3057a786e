# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_ARGS ?=

.PHONY: run test lint typecheck pytest install clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/safety-eval run $(RUN_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench model-evaluation.py

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) bench/scan_throughput.py

clean:
	rm -rf $(VENV) output .mypy_cache .ruff_cache .pytest_cache
