# Two commands: `make run` (set up and serve) and `make test` (set up and test everything).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := moderation

.PHONY: install run test lint test-sqlite test-postgres chromium node bench clean
.PHONY: wordpress lint-php

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[serve,postgres,dev]'
	touch $@

install: $(VENV)/.installed

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's WordPress (6.1, with the Akismet plugin), PHP and its MySQL driver for the
# end-to-end test of integrations/wordpress (tests/test_wordpress.py; MariaDB on :3306).
wordpress:
	@test -f /usr/share/wordpress/wp-comments-post.php && command -v php >/dev/null && command -v mysql >/dev/null && \
	  php -m | grep -qx mysqli || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordpress php-cli php-mysql mariadb-client >/dev/null; }

# Every PHP file of the integrations parses (php -l).
lint-php: wordpress
	@find integrations -name '*.php' -print0 | xargs -0 -n1 php -l >/dev/null

# The npm packages the tests drive (akismet-api, axe-core), exactly as the lockfile pins them.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

node: node_modules/.installed

run: install
	$(BIN)/python -c "from moderation.cli.database import write_secret_key; write_secret_key('instance')"
	$(BIN)/flask setup
	@echo "serving on http://$(HOST):$(PORT)/  (review page: http://$(HOST):$(PORT)/review/)"
	@# The background worker (webhooks, e-mail, training) runs beside gunicorn; Ctrl-C stops both.
	@trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/flask worker & worker=$$!; \
	$(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-sqlite: install chromium node wordpress
	$(BIN)/pytest

test-postgres: install chromium node wordpress
	MODERATION_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -p no:cacheprovider

# The two passes run side by side: much of the suite waits (on Chromium, PHP, the worker,
# sockets), so both together take less than one after the other. Each pass's output is
# printed whole when it ends. Nothing is shared between them: each test has its own SQLite
# files, Redis queue name, WordPress database and ports.
test: lint lint-php
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) .pytest_cache node_modules
