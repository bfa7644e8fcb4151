# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench rollout chaos chaos-smoke load-report sim fmt lock clean web web-check coverage

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kenshō needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/kensho serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The test suite under coverage (branch), then the critical-path gate (tools/critical_coverage.py).
# By default only the critical-path modules are measured (and traced); COVERAGE_SOURCES=--cov=kensho
# reports the whole package (slower: CPU-bound code runs 2-3x slower when traced).
# KENSHO_TEST_MEASURE_SERVERS=1 also measures every `kensho serve` process the tests start (their
# data is combined with the run's; tests/serverproc.py): each then starts about twice as slow,
# ~+20 s a server on a loaded 2-core machine, and the timing-sensitive process tests may flake.
COVERAGE_SOURCES ?= $(shell $(BIN)/python tools/critical_coverage.py --cov-args)
coverage: $(STAMP)
	rm -f .coverage .coverage.* coverage.json
	$(BIN)/python -m pytest --cov-branch $(COVERAGE_SOURCES) --cov-report=term-missing:skip-covered --cov-report=json:coverage.json $(PYTEST_ARGS)
	$(BIN)/python tools/critical_coverage.py coverage.json

lint: $(STAMP)
	$(BIN)/ruff check kensho tests bench tools locustfile.py
	$(BIN)/ruff format --check kensho tests bench tools locustfile.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

fmt: $(STAMP)
	$(BIN)/ruff format kensho tests bench tools locustfile.py
	$(BIN)/ruff check --fix kensho tests bench tools locustfile.py

bench: $(STAMP)
	$(BIN)/python -m bench

# Zero-downtime rollout through HAProxy (bench/rollout.py; needs haproxy and the machine's
# PostgreSQL and Redis).
rollout: $(STAMP)
	$(BIN)/python -m bench rollout

# Faults under load (bench/chaos.py, ~10 min; needs haproxy, redis-server and the machine's
# PostgreSQL): writes docs/load-report/data and renders docs/load-report.md with its plots.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos

# CI's short version: ~20 s of load, one fault; fails on unexpected errors.
chaos-smoke: $(STAMP)
	$(BIN)/python -m bench.chaos --smoke

# The report and its plots again from the committed data of the last chaos run.
load-report: $(STAMP)
	$(BIN)/python -m bench.load.report

# The image's hash-pinned installs (Dockerfile). Python 3.11, as in the image, with this machine's
# pip configuration left out so nothing local leaks into the files.
lock: $(STAMP)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the lock is for the image: Python 3.11")'
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(BIN)/pip-compile --quiet --generate-hashes \
	  --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --output-file requirements/image.lock pyproject.toml
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(BIN)/pip-compile --quiet --generate-hashes \
	  --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --output-file requirements/build.lock requirements/build.in

# docker compose's secrets, once (tools/compose_env.py never overwrites an existing .env).
.env: $(STAMP)
	$(BIN)/python tools/compose_env.py

# The viewer app and the console (web/) into kensho/http/webapp, which is committed: Python-only
# installs serve it without Node. `web-check` fails when the committed build is stale.
web:
	npm ci --prefix web --no-audit --no-fund
	node web/build.mjs

web-check:
	npm ci --prefix web --no-audit --no-fund
	node web/build.mjs --check

sim: $(STAMP)
	$(BIN)/kensho sim --port 8090

clean:
	rm -rf $(VENV) .kensho .pytest_cache .mypy_cache .ruff_cache test-artifacts web/node_modules .coverage* coverage.json
