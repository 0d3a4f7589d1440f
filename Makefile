# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

NPM ?= npm
FRONTEND_STAMP := frontend/dist/app/app.js
FRONTEND_SOURCES := $(wildcard frontend/src/*) frontend/package-lock.json frontend/vite.config.ts frontend/tsconfig.json

.PHONY: run test bench protections install frontend clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The live page: TypeScript built by Vite into frontend/dist (served by Django at /).
$(FRONTEND_STAMP): $(FRONTEND_SOURCES)
	@if command -v $(NPM) >/dev/null 2>&1; then \
	  cd frontend && $(NPM) ci --no-audit --no-fund --loglevel=error && $(NPM) run build; \
	else \
	  echo "warning: npm not found: the live page is not built (install Node.js 20+)"; \
	fi

frontend: $(FRONTEND_STAMP)

## make run: web (uvicorn) + Celery worker (+ embedded Redis when REDIS_URL is unset)
run: install frontend
	DEBUG=$${DEBUG:-1} $(PY) -m project.localrun

## make test: the whole suite (real database, Redis, Celery worker and servers)
test: install frontend
	@if command -v $(NPM) >/dev/null 2>&1; then cd frontend && $(NPM) test --silent; fi
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench [QUICK=1] [ONLY=big,early,compare,...]: speed and memory of the hot paths on the
## real stack, side by side with the simple design of bench/reference (not a test)
bench: install
	$(PY) bench/run.py $(if $(QUICK),--quick,) $(if $(ONLY),--only $(ONLY),)

## make protections [ONLY=word]: each reliability/security protection removed in turn must
## make its tests fail (slow; see .ci/protections.py)
protections: install
	$(PY) .ci/protections.py --only "$(ONLY)"

## make schema: write schema.graphql, the SDL snapshot of the code's schema (commit it; the
## page's TypeScript types are generated from it, tests/test_schema_snapshot.py checks it)
.PHONY: schema
schema: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py export_schema schema.schema --path schema.graphql

# The page's TypeScript types are generated from the snapshot (frontend/codegen.ts): a new
# snapshot rebuilds the page, and so type-checks it again.
$(FRONTEND_STAMP): schema.graphql frontend/codegen.ts

## make lint: ruff (pinned in requirements-dev.txt) checks the Python code and its formatting
.PHONY: lint
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# `make test` lints first (an extra prerequisite line, so the test rule itself stays as it is).
test: lint

clean:
	rm -rf $(VENV) var .pytest_cache frontend/node_modules frontend/dist
