# Two commands do all set-up on a fresh machine with Python 3.12:
#   make run   - create .venv (Python 3.12) if missing, install, run the full-province baseline
#   make test  - same set-up, then the test suite (tests/browser drive Debian's Chromium)
#   make dashboard          - the interactive dashboard (solara run sim/app.py)
#   make report RUN=folder  - report.html of a run or sweep folder (REPORT_LANG=en for English)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON312 ?= $(shell (command -v pyenv >/dev/null && pyenv prefix 3.12.1 2>/dev/null | sed 's|$$|/bin/python|') || command -v python3.12)
STAMP := $(VENV)/.installed

.PHONY: setup run quick test bench clean dashboard report validate

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if [ -z "$(PYTHON312)" ] || ! $(PYTHON312) -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
	    echo "error: Python >= 3.12 not found (tried '$(PYTHON312)'); install it or run 'make PYTHON312=/path/to/python3.12'" >&2; exit 1; fi; \
	  $(PYTHON312) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dashboard]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m sim

quick: $(STAMP)
	$(PY) -m sim population.scale=0.01

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

dashboard: $(STAMP)
	$(PY) -m sim.reporting.dashboard_assets   # Solara's JS/CSS from the npm registry (no CDN here)
	$(VENV)/bin/solara run sim/app.py $(DASHBOARD_ARGS)

report: $(STAMP)
	@if [ -z "$(RUN)" ]; then echo "usage: make report RUN=outputs/runs/... [REPORT_LANG=en]" >&2; exit 2; fi
	$(PY) -m sim report $(RUN) lang=$(or $(REPORT_LANG),zh)

validate: $(STAMP)
	$(PY) -m sim validate

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .numba_cache
