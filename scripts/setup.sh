#!/usr/bin/env bash
# Installs what building and testing lightprompt needs, skipping what is already there:
# the wasm32 target, the wasm-bindgen CLI at the exact version in Cargo.lock, Debian's
# chromium and chromium-driver, the npm test tooling, and the pinned bundlers of the embed
# tests (build/bundlers). Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
missing=()

command -v cargo >/dev/null || { say "Rust is missing: install it from https://rustup.rs and run again."; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

[ -f Cargo.lock ] || cargo generate-lockfile
WBV=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WBV"; then
  say "installing wasm-bindgen-cli $WBV (about 2 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WBV"   # not --locked: a pinned dependency is gone
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    missing+=("chromium and chromium-driver (Debian: sudo apt-get install chromium chromium-driver)")
  fi
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing node and npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    missing+=("node 20+ and npm (Debian: sudo apt-get install nodejs npm)")
  fi
fi

if command -v npm >/dev/null; then
  # Reinstall only when the lock file changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-lock; then
    say "installing npm test tooling (binaryen, playwright-core, dexie)"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.setup-lock
  fi
fi

if command -v npm >/dev/null; then
  # The bundlers and compilers the embed tests build consumer apps with, pinned by their own
  # lock file, installed into build/bundlers only when that lock changed.
  tools=build/bundlers
  if [ ! -f "$tools/node_modules/.package-lock.json" ] || ! cmp -s tests/embed/package-lock.json "$tools/.setup-lock"; then
    say "installing the embed test tools (vite, webpack, esbuild, typescript) into $tools"
    rm -rf "$tools/node_modules" && mkdir -p "$tools"
    cp tests/embed/package.json tests/embed/package-lock.json "$tools/"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/embed/package-lock.json "$tools/.setup-lock"
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  say "cannot install these without root; please install them by hand:"
  for m in "${missing[@]}"; do say "  - $m"; done
  exit 1
fi
say "ready"
