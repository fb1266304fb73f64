# gridledger: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-unit test-integration test-faults lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gridledger run

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m integration

# The fault and bad-input suite (tests/faults): real processes killed, connections cut,
# hostile input. `make test` leaves it out (pyproject's addopts deselect `faults`); a run
# that collects no test exits 5 and fails.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -s -m faults tests/faults

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/commands.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
