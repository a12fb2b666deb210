# Keepline: `make run` and `make test` work on a fresh machine with Python 3.11+.
# requirements.lock is what production runs; requirements-dev.lock adds the test and lint tools.
# Neither names a package index: pip takes those from its own configuration (pip.conf,
# PIP_INDEX_URL, PIP_FIND_LINKS), so a lock means the same on every machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?= 8000
# Printed by `make run` just before daphne starts (tests/test_make_run.py runs this line).
RUN_BANNER = Keepline is listening on http://127.0.0.1:$(PORT)/ - sign in as rep1, manager, compliance or admin (demo password above). Ctrl+C stops it.
# A stamp per set: a lock newer than its stamp reinstalls that set.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# test-fast leaves out what needs chromium, PostgreSQL or the Schemathesis fuzzing run.
FAST_MARKERS := not browser and not postgres and not contract
PIP_TOOLS := pip-tools==7.6.2

.PHONY: run test test-fast lint format bench bootstrap bootstrap-dev migrate lock

define make_venv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
endef

$(RUNTIME_STAMP): requirements.lock
	$(make_venv)
	$(PIP) install --quiet -r requirements.lock
	touch $@

# Both files on one command line: pip refuses to go on if their pins disagree.
$(DEV_STAMP): requirements.lock requirements-dev.lock
	$(make_venv)
	$(PIP) install --quiet -r requirements.lock -r requirements-dev.lock
	touch $(RUNTIME_STAMP) $@

bootstrap: $(RUNTIME_STAMP)

bootstrap-dev: $(DEV_STAMP)

migrate: bootstrap
	$(PY) manage.py migrate --noinput
	$(PY) manage.py compile_catalogues

run: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_demo_channels
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "$(RUN_BANNER)"
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) config.asgi:application

test: bootstrap-dev
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: bootstrap-dev
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

lint: bootstrap-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: bootstrap-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: bootstrap-dev
	$(PY) bench/run_all.py $(BENCH_ARGS)

# Re-pin after editing pyproject.toml's dependencies. Existing pins are kept;
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves them. pip-tools lives in var/, not in .venv.
lock:
	test -x var/pip-tools/bin/pip-compile || \
		($(PYTHON) -m venv var/pip-tools && var/pip-tools/bin/pip install --quiet $(PIP_TOOLS))
	var/pip-tools/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-emit-options \
		$(LOCK_ARGS) --output-file=requirements.lock pyproject.toml
	var/pip-tools/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-emit-options \
		$(LOCK_ARGS) --extra=dev --constraint=requirements.lock \
		--output-file=requirements-dev.lock pyproject.toml
