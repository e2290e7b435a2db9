# Two commands matter: `make run` and `make test`. Both build what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install chromium clean

# llama-cpp-python compiles llama.cpp from source. Build only the library voicewire loads: its
# CMakeLists also builds the multimodal library (mtmd, clip) unless LLAVA_BUILD is off. Tools,
# examples, tests, server and app are already off when llama.cpp is a sub-project; saying so
# keeps them off should a release change that. Your own CMAKE_ARGS (e.g. -DGGML_CUDA=on) follow.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
URL = http://$${VOICEWIRE_HOST:-127.0.0.1}:$${VOICEWIRE_PORT:-8000}/

$(STAMP): pyproject.toml
	@echo "voicewire: installing into $(VENV). The first time, llama-cpp-python compiles llama.cpp"
	@echo "voicewire: from source: a few minutes on a small machine. Later runs skip this step."
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# pip's wheel cache reuses a build, whatever CMAKE_ARGS say: a fresh machine has no cache.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $(CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) \
	  $(BIN)/pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: $(STAMP)
	@echo "voicewire: starting; open $(URL) once it says it is listening (Ctrl+C stops it)."
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
