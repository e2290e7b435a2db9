# Two commands matter: `make run` and `make test`. Both build what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install chromium clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# llama-cpp-python compiles from source (minutes on 2 cores); pip's wheel cache reuses the build.
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: $(STAMP)
	$(BIN)/voicewire serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict src

test: $(STAMP) chromium lint
	CI=$${CI:-} $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/voicewire bench latency --json bench-results/latency.json
	$(BIN)/voicewire bench persistence --json bench-results/persistence.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The browser packages (clients/): install them from the lockfile, type-check them, check that
# the served /voicewire.js is what their modules build, and run their node tests.
.PHONY: js
JS_STAMP := clients/node_modules/.installed
$(JS_STAMP): clients/package-lock.json
	cd clients && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)
js: $(JS_STAMP)
	cd clients && npm run --silent check
	cd clients && node js/scripts/bundle.mjs --check
	node --test tests/js/
test: js
