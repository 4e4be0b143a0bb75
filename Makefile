# The interpreter comes from .python-version (3.13) through pyenv when present,
# so a fresh clone needs no manual step; PYTHON=... overrides it.
PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python3.13 2>/dev/null || command -v python3.13)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run dev test test-fast test-pymongo test-browser screenshots lint api-fuzz conformance check seed clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "python3.13 not found (install it or set PYTHON=)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

## Serve the app on the embedded database with demo data: http://127.0.0.1:8080
run: $(STAMP)
	$(BIN)/pialara-async seed --if-empty
	$(BIN)/pialara-async serve

## Serve with auto-reload (aiohttp-devtools)
dev: $(STAMP)
	$(BIN)/pialara-async seed --if-empty
	$(BIN)/adev runserver src/pialara_async/devapp.py --app-factory create_dev_app --port 8080 --no-livereload

## Run the whole suite (on the embedded server, or MONGODB_URI when set)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Everything but the tests marked slow (loads, large imports, several processes): the quick loop
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not browser and not slow' $(PYTEST_ARGS)

## The web interface in real Chromium (Debian's package: apt-get install -y chromium)
test-browser: $(STAMP)
	$(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS)

## Photograph the web interface (desktop and phone) into docs/images/
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots.py

## The suite on PyMongo's AsyncMongoClient instead of Motor
test-pymongo: $(STAMP)
	PIALARA_MONGODB__DRIVER=pymongo $(BIN)/python -m pytest $(PYTEST_ARGS)

## ruff on everything, mypy on src/
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## schemathesis against the served OpenAPI document (anonymous, then as an admin)
api-fuzz: $(STAMP)
	bash .ci/api-fuzz

## PyMongo's own specification tests against the embedded database (figures, ~10 min)
conformance: $(STAMP)
	$(BIN)/python bench/conformance.py

check: $(STAMP)
	$(BIN)/pialara-async check

clean:
	rm -rf $(VENV) .pialara .pytest_cache
