# lightprompt — every command a newcomer needs. `make test` and `make demo` set up what is
# missing first (scripts/setup.sh), so a fresh clone needs nothing else.

SHELL := /bin/bash
BUILD := $(abspath build)
PORT ?= 8080
# chromedriver leaves temp files per run: keep them inside the build folder.
export TMPDIR := $(BUILD)/tmp

.PHONY: setup check test test-native test-wasm test-pkg test-embed test-e2e test-reliability test-fuzz test-bench test-agl pkg demo bench fuzz fmt clean

setup:
	@mkdir -p $(TMPDIR)
	@./scripts/setup.sh

fmt:
	cargo fmt

check: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings

test-native: setup
	cargo test --all-targets
	cargo test --doc

test-wasm: setup
	cargo test --target wasm32-unknown-unknown --tests

pkg: setup
	./scripts/build-pkg.sh

test-pkg: pkg
	node --test tests/js/

# The packed package in real consumer apps: Vite, webpack, esbuild, a CDN page, Node ESM and
# CJS, TypeScript (pinned tools in build/bundlers, from tests/embed/package.json).
test-embed: pkg
	node --test tests/embed/

test-e2e: pkg
	node --test tests/e2e/

# Faults in a real browser: bad input, killed pages and browsers, two tabs, a full quota,
# hostile imports.
test-reliability: pkg
	node --test tests/reliability/

# A real Agent Lightning 0.3.0 store (installed into build/agl once): send from the package
# and the command line, read back with Agent Lightning's own client and helpers.
test-agl: pkg
	./scripts/agl-venv.sh
	node --test tests/agl/

# The proptest fuzzers, a short smoke pass (the long run is `make fuzz`).
test-fuzz: setup
	FUZZ_CASES=256 cargo test --release --test fuzz

# The benchmark harness on tiny sizes, so it cannot rot (no assertion on time).
test-bench: pkg
	cargo run --release --example bench_native -- --quick
	node scripts/bench.mjs --tiny

## Every test: formatting, lints (native and wasm32), native tests, wasm tests in headless
## Chromium, the npm package installed and used from Node, the package embedded by real bundlers,
## the page end to end, a real Agent Lightning store, the bench harness.
test: check test-native test-wasm test-pkg test-embed test-e2e test-reliability test-agl test-fuzz test-bench
	@echo "make test: all passed"

## Build the web package and serve www/ on 127.0.0.1.
demo: pkg
	@echo "lightprompt is at http://127.0.0.1:$(PORT)/  (Ctrl+C stops it)"
	python3 -m http.server $(PORT) --bind 127.0.0.1 --directory www

bench: pkg
	./scripts/bench.sh

fuzz: setup
	./scripts/fuzz.sh

clean:
	rm -rf build pkg www/pkg
