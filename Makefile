# Two commands do all set-up on a fresh machine with Python 3.12:
#   make run   - create .venv (Python 3.12) if missing, install what the model needs, run the full-province baseline
#   make test  - same, plus the test and dashboard extras; lint, format check, then the whole test suite on 2 workers
#               (tests/browser drive Debian's Chromium, tests/cluster a real one-node Slurm); CI runs this
# Others:
#   make test-fast          - lint and the tests that take seconds (no end-to-end, browser or Slurm), on 2 workers
#   make dashboard          - the interactive dashboard (solara run sim/app.py)
#   make explorer SWEEP=dir - the ensemble explorer over a sweep's results (solara run sim/explorer.py)
#   make report RUN=folder  - report.html of a run or sweep folder (REPORT_LANG=en for English)
#   make bench              - the benchmarks (benchmarks/RESULTS.md)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON312 ?= $(shell (command -v pyenv >/dev/null && pyenv prefix 3.12.1 2>/dev/null | sed 's|$$|/bin/python|') || command -v python3.12)
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: setup setup-dev run quick test test-fast lint bench clean dashboard explorer report validate

$(PY):
	@if [ -z "$(PYTHON312)" ] || ! $(PYTHON312) -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
	  echo "error: Python >= 3.12 not found (tried '$(PYTHON312)'); install it or run 'make PYTHON312=/path/to/python3.12'" >&2; exit 1; fi
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# what the model needs (make run)
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $(STAMP)

# and what the tests and the dashboard need (make test)
$(STAMP_DEV): pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e '.[test,dashboard]'
	@touch $(STAMP_DEV)

setup: $(STAMP)
setup-dev: $(STAMP_DEV)

run: $(STAMP)
	$(PY) -m sim

quick: $(STAMP)
	$(PY) -m sim population.scale=0.01

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: lint
	$(PY) -m pytest -q -n 2 -m "not slow and not browser and not cluster" $(PYTEST_ARGS)

dashboard: $(STAMP_DEV)
	$(PY) -m sim.reporting.dashboard_assets   # Solara's JS/CSS from the npm registry (no CDN here)
	$(VENV)/bin/solara run sim/app.py $(DASHBOARD_ARGS)

explorer: $(STAMP_DEV)
	@if [ -z "$(SWEEP)" ]; then echo "usage: make explorer SWEEP=outputs/sweeps/..." >&2; exit 2; fi
	$(PY) -m sim.reporting.dashboard_assets
	SHANXI_SWEEP=$(SWEEP) $(VENV)/bin/solara run sim/explorer.py $(DASHBOARD_ARGS)

report: $(STAMP)
	@if [ -z "$(RUN)" ]; then echo "usage: make report RUN=outputs/runs/... [REPORT_LANG=en]" >&2; exit 2; fi
	$(PY) -m sim report $(RUN) lang=$(or $(REPORT_LANG),zh)

validate: $(STAMP)
	$(PY) -m sim validate

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .numba_cache .ruff_cache
