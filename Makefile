# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two installs: what running needs (requirements.txt, for `make run`), and the test tools on
# top (requirements-dev.txt: pytest, Playwright, schemathesis, Hypothesis, moto, for `make test`).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

# npm with a Node.js 20+: the machine's, else the pinned wheel's (requirements-node.txt),
# installed into $(VENV) the first time (tools/node.py).
NPM = $(PY) -m tools.node npm
FRONTEND_STAMP := frontend/dist/app/app.js
FRONTEND_SOURCES := $(wildcard frontend/src/* frontend/src/graphiql/*) frontend/package-lock.json \
  frontend/vite.config.ts frontend/vite.graphiql.config.ts frontend/tsconfig.json

.PHONY: run test bench protections install install-run frontend clean user token

$(PY):
	$(PYTHON) -m venv $(VENV)
	$@ -m pip install --quiet --upgrade "pip>=24"

# pip shows its progress on a first install (a minute or two); later ones are quiet.
$(RUN_STAMP): requirements.txt | $(PY)
	@echo "Installing what the service needs to run into $(VENV)…"
	$(PY) -m pip install $(if $(wildcard $@),--quiet,--progress-bar on) -r requirements.txt
	touch $@

# client/pyproject.toml: the command-line client, installed editable (-e ./client), whose
# code changes need no reinstall, but its dependencies do.
$(DEV_STAMP): requirements-dev.txt client/pyproject.toml $(RUN_STAMP)
	@echo "Installing the test tools into $(VENV)…"
	$(PY) -m pip install $(if $(wildcard $@),--quiet,--progress-bar on) -r requirements-dev.txt
	touch $@

# `install`: everything (tests, bench, tools); `install-run`: only what running needs.
install: $(DEV_STAMP)

install-run: $(RUN_STAMP)

# The live page: TypeScript built by Vite into frontend/dist (served by Django at /).
$(FRONTEND_STAMP): $(FRONTEND_SOURCES) | $(PY)
	$(NPM) ci --no-audit --no-fund --loglevel=error
	$(NPM) run build

frontend: $(FRONTEND_STAMP)

## make run: web (uvicorn) + Celery worker (+ embedded Redis when REDIS_URL is unset)
run: install-run frontend
	DEBUG=$${DEBUG:-1} $(PY) -m tools.localrun

# `make user|token USER=name`: USER is also the shell's login name, which make takes from the
# environment; only a USER= given on make's command line names the account.
ACCOUNT := $(if $(filter command line,$(origin USER)),$(USER))

.PHONY: account-named
account-named:
	@if [ -z "$(strip $(ACCOUNT))" ]; then \
	  echo "usage: make $(MAKECMDGOALS) USER=<name>   (USER= on make's command line; make run makes demo)" >&2; \
	  exit 2; \
	fi

## make user USER=name: an ordinary user (sees only their own files); prints the password
user: account-named install-run
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input -v 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py create_user "$(ACCOUNT)"

## make token USER=name: a new API token for that user (`demo` is made by `make run`)
token: account-named install-run
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input -v 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py create_api_token "$(ACCOUNT)"

## make test: the whole suite (real database, Redis, Celery worker and servers)
test: install frontend
	$(NPM) run lint --silent
	$(NPM) test --silent
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench [QUICK=1] [ONLY=big,early,compare,...]: speed and memory of the hot paths on the
## real stack, side by side with the simple design of bench/reference (not a test)
bench: install
	$(PY) bench/run.py $(if $(QUICK),--quick,) $(if $(ONLY),--only $(ONLY),)

## make protections [ONLY=word]: each reliability/security protection removed in turn must
## make its tests fail (slow; see tools/protections/runner.py)
protections: install
	$(PY) -m tools.protections --only "$(ONLY)"

## make schema: write schema.graphql, the SDL snapshot of the code's schema (commit it; the
## page's TypeScript types are generated from it, tests/test_schema_snapshot.py checks it)
.PHONY: schema
schema: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py export_schema schema.graphql.api:schema --path schema.graphql

# The page's TypeScript types are generated from the snapshot (frontend/codegen.ts): a new
# snapshot rebuilds the page, and so type-checks it again.
$(FRONTEND_STAMP): schema.graphql frontend/codegen.ts

## make settings-doc: write docs/settings.md from .env.example, the one description of each
## setting (tests/test_docs.py fails while it is stale or disagrees with the code)
.PHONY: settings-doc
settings-doc: | $(PY)
	$(PY) -m tools.settings_doc

## make lint: ruff checks the Python code and its format (ruff.toml; `.venv/bin/ruff format .`
## formats it), import-linter the layers (.importlinter); both pinned in requirements-dev.txt.
## Then every protection's text is found once (a rename fails here in seconds, not in `make
## protections`' half hour).
.PHONY: lint
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m tools.protections --check

## make compose-test: docker-compose.yml built and run for real on podman (local stand-ins for
## the Docker Hub images, deploy/standins/), used through its proxy, scaled out, torn down
## (tools/compose_test.py; COMPOSE_TEST_PORT, default 8000)
.PHONY: compose-test
compose-test: install
	$(PY) -m tools.compose_test

# `make test` lints first (an extra prerequisite line, so the test rule itself stays as it is).
test: lint

clean:
	rm -rf $(VENV) var .pytest_cache frontend/node_modules frontend/dist
