# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# `make run` installs only what serving needs; `make test` (and the other
# developer targets) add the test, lint and packaging tools on top. Nothing is compiled to bytecode
# at install: Python compiles what is imported when it is first imported, a small part of these
# packages (compiling all of the tools at install took 13 of the install's 26 s).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install run reset-data test fuzz lint bench package clean

# The virtualenv. Its pip comes from the system's pip when that can install into another
# environment (--python): some 7 s quicker than the venv module's ensurepip, the fallback.
$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --disable-pip-version-check --no-compile pip \
	  2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }

$(RUN_STAMP): requirements.txt requirements-run.txt | $(BIN)/python
	$(PIP) --no-compile -r requirements-run.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PIP) --no-compile -r requirements-dev.txt
	touch $@

install: $(DEV_STAMP)

# Data lives in .dqs-data/ (or $DQS_DATA_DIR) across restarts; `make reset-data` starts afresh.
run: $(RUN_STAMP)
	PORT=$(PORT) $(BIN)/python -m devtools.local_server

reset-data:
	$(PYTHON) -m devtools.datadir reset

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# The tests run on as many processes as there are cores (at most 4; pytest-xdist): a test goes to
# whichever is free, the tests of a module that shares a server or a build stay together
# (tests/conftest.py). `make test TEST_WORKERS=0` runs them in this process. The last lines
# give the time of each layer of tests.
# The suite starts dozens of Python processes (workers, local servers, builds): each may keep the
# bytecode it compiles (PYTHONDONTWRITEBYTECODE emptied for the run, where a machine sets it), so
# that only the first compiles moto, botocore and the rest from source (about 50 CPU-seconds a run).
TEST_WORKERS ?= auto
test: lint
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -rs -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup

# A deeper fuzzing pass than `make test`'s: 100 random examples per operation, not 8.
FUZZ_EXAMPLES ?= 100
fuzz: $(DEV_STAMP)
	DQS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -rs -n $(TEST_WORKERS) --maxprocesses 4 \
	  tests/e2e/test_fuzz.py

# The deployable artifact of every stage, offline: build/package/<stage>/{sam.json,deployment.zip}
package: $(DEV_STAMP)
	$(BIN)/python -m devtools.package

# What each request costs (not part of `make test`): prints a table and writes docs/BENCHMARKS.md
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache build dist
