# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_ARGS ?=

.PHONY: run test lint typecheck pytest install install-test clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

# semgrep pins an older opentelemetry than llama.cpp's server accepts, so it lives in its
# own tool venv; the scanner finds it there (or on PATH, or via $$SAFETY_EVAL_SEMGREP_BIN).
SEMGREP := $(VENV)/tools/semgrep/bin/semgrep
$(SEMGREP): | $(PY)
	$(PYTHON) -m venv $(VENV)/tools/semgrep
	$(VENV)/tools/semgrep/bin/python -m pip install --quiet "semgrep>=1.80"

# The official SARIF 2.1.0 JSON Schema, to validate our SARIF output in tests; it ships
# inside Microsoft's @microsoft/jest-sarif npm package.
SARIF_SCHEMA := $(VENV)/tools/sarif/sarif-2.1.0.json
$(SARIF_SCHEMA): | $(PY)
	mkdir -p $(VENV)/tools/sarif
	cd $(VENV)/tools/sarif && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null \
	  && tar -xzf microsoft-jest-sarif-1.0.0-beta.0.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json \
	  && mv package/lib/schemas/sarif-2.1.0-rtm.5.json sarif-2.1.0.json \
	  && rm -rf package microsoft-jest-sarif-1.0.0-beta.0.tgz

# Headless Chromium and its driver (Debian packages) for the HTML report's browser tests.
CHROMIUM := /usr/bin/chromedriver
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null

install: $(STAMP)

# The hf backend's tests need torch: the CPU wheel (a bare "torch" would pull CUDA, GBs).
HF_STAMP := $(VENV)/.installed-hf
$(HF_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[local,dev,hf,ray]"
	touch $(HF_STAMP)

install-test: install $(HF_STAMP) $(SEMGREP) $(SARIF_SCHEMA) $(CHROMIUM)

run: install
	$(VENV)/bin/safety-eval run $(RUN_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench model-evaluation.py

typecheck: install-test
	$(VENV)/bin/mypy

pytest: install-test
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) bench/scan_throughput.py

clean:
	rm -rf $(VENV) output .mypy_cache .ruff_cache .pytest_cache
