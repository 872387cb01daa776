# Vault — the two commands of the README, plus lint and bench.
#   make run    install into .venv, initialise keys/ storage/ audit/ and the database,
#               load the demo group if empty, serve on http://127.0.0.1:5000
#   make test   install test dependencies (Debian packages included) and run the whole suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
JOBS_EVERY ?= 300

RUN_DEBS := libmagic1 fonts-wqy-microhei tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng espeak-ng
TEST_DEBS := $(RUN_DEBS) postgresql chromium-headless-shell

.PHONY: run test lint bench install install-test deps-run deps-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { scripts/system-deps.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $@ $(VENV)/.installed

deps-run:
	@scripts/system-deps.sh $(RUN_DEBS)

deps-test:
	@scripts/system-deps.sh $(TEST_DEBS)

install: deps-run $(VENV)/.installed

install-test: deps-test $(VENV)/.installed-test

# `make run` also runs `vault jobs run` (declassification, notices, purges, checkpoints)
# at start and every JOBS_EVERY seconds: a background loop that ends with the server
# (killed on exit, and it stops by itself within 5 s once this shell is gone); and
# `vault index work --follow`, which extracts and indexes new files within seconds.
run: install
	$(BIN)/vault init
	$(BIN)/vault demo
	@echo "Vault on http://$(HOST):$(PORT)  (Ctrl-C stops it; jobs run every $(JOBS_EVERY) s)"
	@main=$$$$; \
	( left=0; while kill -0 $$main 2>/dev/null; do \
	    if [ $$left -le 0 ]; then $(BIN)/vault jobs run --quiet; left=$(JOBS_EVERY); fi; \
	    sleep 5; left=$$((left - 5)); done ) & \
	loop=$$!; \
	$(BIN)/vault index work --follow --quiet & indexer=$$!; \
	trap 'kill $$loop $$indexer 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/vault serve --dev --host $(HOST) --port $(PORT)

# One pytest worker per core (pytest-xdist; each worker starts its own throw-away
# PostgreSQL and builds its own database templates); coverage is combined across workers.
# Whole suite, 2 cores, each run alone under the CPU lock: 2 workers 418 s (CPU 601 s,
# load 3.6), 3 workers 415 s (CPU 643 s, load 4.1), 4 workers 504 s (CPU 798 s, load 7.9).
# With one per core the cores idle ~28 % (tests wait for chromium, their servers,
# PostgreSQL), but a third worker only matches two for 7 % more CPU, and a fourth is slower:
# every worker collects the whole suite, builds its templates, starts its servers and
# chromium, and they contend. `auto` (one per core) is the cheapest of the fast ones.
# worksteal ends the workers within 2 s of each other, so collection order is left alone.
TEST_WORKERS ?= auto

# Temporary folders (each test's home and SQLite file, the throw-away PostgreSQL and
# SeaweedFS) live in memory when /dev/shm is writable: the suite fsyncs audit lines,
# blobs and SQLite's WAL at every step, and waiting for a shared disk doubled its time.
# Compiled modules are cached even where PYTHONDONTWRITEBYTECODE is set: without the cache
# every run compiles (and pytest assertion-rewrites) all it imports again, in each worker.
# Each run gets its own folder (two runs never delete each other's), removed when the run
# passes; memory is used only where /dev/shm has 4 GiB free (a container's 64 MiB /dev/shm
# would fill up), else $TMPDIR or /tmp. `make test TEST_TMPDIR=/some/dir` chooses. The folder
# is 755 (mktemp makes it 700): the throw-away PostgreSQL runs as the postgres user under it.
TEST_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -ge 4194304 ] 2>/dev/null && echo /dev/shm)

# Coverage (with branches) is combined across workers and printed once, by `coverage report`
# after pytest; pytest-cov's own terminal report analyses every source file twice (the total,
# then the table), a serial tail after the last test (10.6 s of it on 2 cores, loaded).
# A failing run still prints coverage and still exits non-zero.
test: install-test
	@tmp=$$(mktemp -d "$(or $(TEST_TMPDIR),$${TMPDIR:-/tmp})/vault-tests.XXXXXX") && chmod 755 "$$tmp" || exit 1; \
	TMPDIR=$$tmp PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal --cov=vault --cov-branch --cov-report=; \
	rc=$$?; $(BIN)/coverage report --skip-covered || [ $$rc -ne 0 ] || rc=1; \
	if [ $$rc -eq 0 ]; then rm -rf "$$tmp"; else echo "temporary folders kept in $$tmp"; fi; exit $$rc

lint: install-test
	$(BIN)/ruff check vault tests benchmarks
	$(BIN)/mypy vault

bench: install-test
	@scripts/system-deps.sh wrk openssl curl
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
