# Two commands: `make run` sets everything up and serves; `make test` lints and tests.
PYTHON ?= python3
CHROMIUM := /usr/bin/chromium
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test

run: $(VENV)/.installed .env
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_providers --if-empty
	$(BIN)/python manage.py create_admin
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C stops)"
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off

test: $(VENV)/.dev-installed $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

# Browser tests drive Debian's Chromium: Playwright's own browser download is not reachable.
$(CHROMIUM):
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

# Written once with fresh secrets; an existing .env is never overwritten.
.env: | $(VENV)/.installed
	$(BIN)/python -m config.dev_env $@
