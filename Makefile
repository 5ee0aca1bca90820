# Two commands: `make run` sets everything up and serves; `make test` lints and tests.
# `make screenshot` remakes the README's picture, docs/chat.png.
PYTHON ?= python3
CHROMIUM := /usr/bin/chromium
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test screenshot

run: $(VENV)/.installed .env
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_providers --if-empty
	$(BIN)/python manage.py create_admin
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python -m config.serve --host $(HOST) --port $(PORT) --with-task-worker

test: $(VENV)/.dev-installed $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest -n auto

# A browser test the suite deselects (pyproject's addopts), so no test run writes into
# the checkout; this is the one command that does.
screenshot: $(VENV)/.dev-installed $(CHROMIUM)
	$(BIN)/pytest -m screenshot -q

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
