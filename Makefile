# Set-up and checks. `make install` then `make test` is all a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow docs clean

install: $(STAMP)

# Re-running is quick: pip runs again only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Two pytest workers (pytest-xdist): the suite is mostly Python-bound model building, so two
# processes on two cores share the work. Keras' functions run eagerly on the tiny data, where
# tracing them took most of each run (tests/conftest.py): about 4 minutes instead of 6.
test: install
	$(BIN)/python -m pytest -q -n 2

# Training to targets on the real data in ../shared/data (minutes to an hour).
test-slow: install
	MLKIT_DATA_DIR=$${MLKIT_DATA_DIR:-../shared/data} $(BIN)/python -m pytest -q -p no:xdist -m slow

docs: install
	$(BIN)/python -m cli._docs > docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
