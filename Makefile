# Everything sets itself up: the first target that needs the virtualenv makes it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run demo test lint typecheck worker beat migrate clean static

# Browser libraries from npm, pinned by package-lock.json, served as static files.
# Chart.js's source map comes along: the script names it (sourceMappingURL), and
# collectstatic's manifest storage refuses a reference to a missing file.
VENDOR := static/vendor/chart.umd.min.js.map
$(VENDOR): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map static/vendor/

static: $(VENDOR)

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Local trial on SQLite with in-process tasks; DEBUG on so no secret key is needed.
LOCAL := DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py

# First a clear error if the port is taken. On an empty database with no GitHub
# App configured, loads the demo once; every start prints how to log in to it
# (docs/demo.md).
run: $(BIN)/.installed $(VENDOR)
	@$(LOCAL) address_free $(HOST) $(PORT)
	$(LOCAL) migrate --noinput
	$(LOCAL) demo --first-run --base-url http://$(HOST):$(PORT)
	$(LOCAL) runserver $(HOST):$(PORT)

# Loads (or refreshes) the demo and prints how to log in; RESET_PASSWORD=1 gives
# demo-admin a new password.
demo: $(BIN)/.installed
	$(LOCAL) migrate --noinput
	$(LOCAL) demo --base-url http://$(HOST):$(PORT) $(if $(RESET_PASSWORD),--reset-password)

test: $(BIN)/.installed $(VENDOR)
	$(BIN)/pytest $(PYTEST_ARGS)

# mypy --strict (pyproject.toml) over the GitHub code, the metrics' services and
# the delivery pipeline.
TYPED := github_app apps/metrics/services apps/integrations/pipeline apps/notifications/services

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

typecheck: $(BIN)/.installed
	$(BIN)/mypy $(TYPED)

migrate: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput

# Needs REDIS_URL (and DATABASE_URL for anything but a local trial).
worker: $(BIN)/.installed
	$(BIN)/celery -A config worker

beat: $(BIN)/.installed
	$(BIN)/celery -A config beat

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache node_modules static/vendor
