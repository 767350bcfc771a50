# Gatehouse — the two commands of the README work from a fresh clone:
#   make run    create .venv if missing, install, open the console in demo mode
#   make test   install the test extra if missing, run lint + the whole suite offscreen

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: run test lint unit clean-venv bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Gatehouse needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TSTAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/gatehouse --demo

lint: $(TSTAMP)
	$(BIN)/ruff check app ui tests
	$(BIN)/lint-imports --no-cache

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest $(PYTEST_ARGS)

unit: $(TSTAMP)
	$(BIN)/pytest tests/unit -q

clean-venv:
	rm -rf $(VENV)
