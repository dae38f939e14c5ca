# `make test` and `make demo` set themselves up (venv + editable install): a fresh clone on a
# machine with only Python 3.11+ needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check loadgen tests benchmarks scenarios
	$(VENV)/bin/mypy loadgen

clean:
	rm -rf $(VENV) build *.egg-info
