# Two commands do all set-up on a fresh machine with Python 3.12:
#   make run   - create .venv (Python 3.12) if missing, install, run the full-province baseline
#   make test  - same set-up, then the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON312 ?= $(shell (command -v pyenv >/dev/null && pyenv prefix 3.12.1 2>/dev/null | sed 's|$$|/bin/python|') || command -v python3.12)
STAMP := $(VENV)/.installed

.PHONY: setup run quick test bench clean

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if [ -z "$(PYTHON312)" ] || ! $(PYTHON312) -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
	    echo "error: Python >= 3.12 not found (tried '$(PYTHON312)'); install it or run 'make PYTHON312=/path/to/python3.12'" >&2; exit 1; fi; \
	  $(PYTHON312) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m sim

quick: $(STAMP)
	$(PY) -m sim population.scale=0.01

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .numba_cache
