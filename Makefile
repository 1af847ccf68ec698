# Two entry points on a fresh machine with Python >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## The whole daily job on embedded defaults; prints where the received mail was saved.
demo: $(BIN)/.installed
	$(BIN)/newsletter demo --out demo-out

## ruff, mypy, the layering contract (import-linter) and the test suite (PostgreSQL tests run when NEWSLETTER_TEST_PG_URL is set).
test: lint
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
