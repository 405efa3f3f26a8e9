#!/usr/bin/env bash
# Builds the npm package into pkg/: release wasm, wasm-bindgen for the web and Node targets
# (one wasm file shared by both), wasm-opt from the npm binaryen (Debian's corrupts
# wasm-bindgen output), the entries from src/wasm/js/ with their types and package.json
# (scripts/pkg-files.mjs), README, CHANGELOG and LICENSE; copies the browser entry into
# www/pkg for the page; prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --lib --target wasm32-unknown-unknown
WASM=target/wasm32-unknown-unknown/release/lightprompt.wasm
OUT=pkg
GEN=build/bindgen
rm -rf "$OUT.tmp" "$GEN" && mkdir -p "$OUT.tmp" "$GEN/web" "$GEN/node"
wasm-bindgen "$WASM" --out-dir "$GEN/web" --target web --remove-name-section --remove-producers-section
wasm-bindgen "$WASM" --out-dir "$GEN/node" --target nodejs --remove-name-section --remove-producers-section
# Both targets get the same wasm, so the package ships one copy that every entry loads.
cmp -s "$GEN/web/lightprompt_bg.wasm" "$GEN/node/lightprompt_bg.wasm" \
  || { echo "build-pkg: the web and Node targets produced different wasm files" >&2; exit 1; }
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-sign-ext --enable-mutable-globals \
  "$GEN/web/lightprompt_bg.wasm" -o "$OUT.tmp/lightprompt_bg.wasm"
# The glue sits next to the wasm, where both targets look for it by default.
sed -e '/@ts-self-types/d' "$GEN/web/lightprompt.js" > "$OUT.tmp/glue_web.js"
cp "$GEN/node/lightprompt.js" "$OUT.tmp/glue_node.cjs"
grep -q '__dirname}/lightprompt_bg.wasm' "$OUT.tmp/glue_node.cjs" \
  || { echo "build-pkg: the Node glue no longer loads lightprompt_bg.wasm from its folder" >&2; exit 1; }
VERSION=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
# Entries, their shared core, the public types and package.json.
node scripts/pkg-files.mjs "$OUT.tmp" "$GEN/web/lightprompt.d.ts" "$VERSION"
cp README.md CHANGELOG.md LICENSE "$OUT.tmp/"
# The command line (`npx lightprompt send-agl`), which loads the Node build.
mkdir -p "$OUT.tmp/bin" && cp src/wasm/cli.mjs "$OUT.tmp/bin/lightprompt.mjs" && chmod +x "$OUT.tmp/bin/lightprompt.mjs"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
rm -rf www/pkg && mkdir -p www/pkg
cp "$OUT/lightprompt.js" "$OUT/core.js" "$OUT/glue_web.js" "$OUT/lightprompt_bg.wasm" www/pkg/

size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%8.1f KB", b / 1024 }'; }
gz() { awk -v b="$(gzip -9 -c "$1" | wc -c)" 'BEGIN { printf "%8.1f KB", b / 1024 }'; }
echo "package sizes (raw, gzipped):"
for f in "$OUT/lightprompt_bg.wasm" "$OUT/glue_web.js" "$OUT/glue_node.cjs" "$OUT/lightprompt.js" "$OUT/core.js"; do
  printf '  %-32s %s %s\n' "$f" "$(size "$f")" "$(gz "$f")"
done
