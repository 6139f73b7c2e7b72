# ceiling-grid: one command to set up and run, one to set up and test. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup system-deps run test lint unit lock clean

$(VENV)/.installed: requirements.lock pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@test -x $(PY) || uv venv --quiet --python python3.11 $(VENV) || python3 -m venv $(VENV)
	VIRTUAL_ENV=$(abspath $(VENV)) uv pip install --quiet --compile-bytecode -r requirements.lock
	VIRTUAL_ENV=$(abspath $(VENV)) uv pip install --quiet --no-deps -e .
	@# bytecode is written now, once: where PYTHONDONTWRITEBYTECODE is set, every process (each CLI run, each
	@# Airflow component and task) would otherwise compile scipy, airflow and the package from source again
	$(PY) -m compileall -q -j 0 src dags > /dev/null
	@touch $@

setup: $(VENV)/.installed ## create .venv with the pinned lock and the package

system-deps: ## Debian packages the full suite drives (chromium, docker-compose, prometheus)
	@scripts/setup-system

run: setup ## lay out the sample rooms in-process (no Airflow) into data/output/cli
	$(VENV)/bin/ceiling-grid run data/input --out data/output/cli

lint: setup
	$(VENV)/bin/ruff check src dags tests scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: setup
	$(VENV)/bin/pytest -q -m "not integration and not browser"

test: setup system-deps lint ## the full suite: lint, unit, dependency audit (tests/test_audit.py), Airflow, browser
	$(VENV)/bin/pytest -q --durations=15

lock: ## re-resolve requirements.lock from requirements-dev.txt
	uv pip compile requirements-dev.txt --python-version 3.11 -o requirements.lock -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# ----- local Airflow stack (no Docker): api-server, scheduler, dag-processor, triggerer -----
.PHONY: up down demo trigger status

up: setup ## start Airflow locally (airflow_home/, SQLite + LocalExecutor), print URL and login
	$(PY) scripts/stack.py up

demo: setup ## up if needed, trigger ceiling_grid_pipeline on data/input over REST, print the per-room summary
	$(PY) scripts/stack.py demo

trigger: setup ## trigger one run over REST (CLI=1: `airflow dags trigger`), wait, print the per-room table (NO_WAIT=1: only the run id)
	$(PY) scripts/stack.py trigger $(if $(CLI),--cli) $(if $(NO_WAIT),--no-wait) $(if $(CONF),--conf '$(CONF)')

status: ## components, health and the latest runs of the local stack
	$(PY) scripts/stack.py status

down: ## stop the local stack (every component's process group)
	$(PY) scripts/stack.py down

.PHONY: init compose-lint
ENV_FILE ?= .env

init: ## write .env for docker compose (fresh secrets, your AIRFLOW_UID); keeps an existing one
	python3 scripts/init-env --if-missing --env-file $(ENV_FILE)

compose-lint: setup ## validate docker-compose.yml (+ profiles), the Dockerfile and deploy/ without Docker
	$(VENV)/bin/pytest -q tests/test_compose_lint.py

# ----- benchmarks: docs/benchmarks.md + docs/img/bench_*.png (BENCH_FAST=1: one repeat, no 200x200, no Airflow) -----
.PHONY: bench
BENCH_FAST ?=
BENCH_BEFORE ?=

bench: setup ## speed/scale, quality vs references, Airflow overhead -> docs/benchmarks.md (~15 min; BENCH_FAST=1 ~3 min)
	BENCH_FAST=$(BENCH_FAST) BENCH_BEFORE=$(BENCH_BEFORE) PYTHONPATH=$(CURDIR) $(PY) -m benchmarks.run

.PHONY: audit
audit: setup ## pip-audit requirements.lock; passes only if every package was audited and none has a fixable vulnerability
	$(PY) scripts/audit-deps
