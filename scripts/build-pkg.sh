#!/usr/bin/env bash
# Builds the npm package into pkg/: release wasm, wasm-bindgen for the web and Node targets,
# wasm-opt from the npm binaryen (Debian's corrupts wasm-bindgen output), a package.json
# with an exports map, the README and LICENSE; copies the web build into www/pkg for the
# page; prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --lib --target wasm32-unknown-unknown
WASM=target/wasm32-unknown-unknown/release/lightprompt.wasm
OUT=pkg
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/web" "$OUT.tmp/node"
wasm-bindgen "$WASM" --out-dir "$OUT.tmp/web" --target web --remove-name-section --remove-producers-section
wasm-bindgen "$WASM" --out-dir "$OUT.tmp/node" --target nodejs --remove-name-section --remove-producers-section
# Optional arguments: wasm-bindgen types `Option<JsValue>` with an unchecked type as required.
for d in "$OUT.tmp/web/lightprompt.d.ts" "$OUT.tmp/node/lightprompt.d.ts"; do
  sed -i -e 's/(options: LightPromptOptions)/(options?: LightPromptOptions)/' \
         -e 's/(query: QueryRequest)/(query?: QueryRequest)/' \
         -e 's/options: ImportOptions)/options?: ImportOptions)/' \
         -e 's/(category: string, model?: string | null)/(category: Category, model?: string | null)/' \
         -e '/\[Symbol.dispose\]()/d' "$d"   # needs lib esnext; free() does the same
done
for dir in web node; do
  f="$OUT.tmp/$dir/lightprompt_bg.wasm"
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-mutable-globals "$f" -o "$f.opt"
  mv "$f.opt" "$f"
done
VERSION=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
cat > "$OUT.tmp/package.json" <<JSON
{
  "name": "lightprompt",
  "version": "$VERSION",
  "description": "Offline, in-browser personal prompt tuner: rewrites prompts for image, video and text models and learns from your feedback (Rust + WebAssembly, IndexedDB).",
  "license": "MIT",
  "type": "module",
  "main": "./node/lightprompt.js",
  "module": "./web/lightprompt.js",
  "types": "./web/lightprompt.d.ts",
  "exports": {
    ".": {
      "types": "./web/lightprompt.d.ts",
      "node": "./node/lightprompt.cjs",
      "browser": "./web/lightprompt.js",
      "import": "./web/lightprompt.js",
      "default": "./web/lightprompt.js"
    },
    "./lightprompt_bg.wasm": "./web/lightprompt_bg.wasm",
    "./package.json": "./package.json"
  },
  "bin": { "lightprompt": "./bin/lightprompt.mjs" },
  "files": ["web/", "node/", "bin/", "README.md", "LICENSE"],
  "sideEffects": ["./web/lightprompt.js"],
  "keywords": ["prompt", "prompt-engineering", "wasm", "indexeddb", "reinforcement-learning", "midjourney", "stable-diffusion"]
}
JSON
# The nodejs target is CommonJS; the package is "type": "module", so name it .cjs.
mv "$OUT.tmp/node/lightprompt.js" "$OUT.tmp/node/lightprompt.cjs"
cp README.md LICENSE "$OUT.tmp/"
# The command line (`npx lightprompt send-agl`), which loads the Node build.
mkdir -p "$OUT.tmp/bin" && cp src/wasm/cli.mjs "$OUT.tmp/bin/lightprompt.mjs" && chmod +x "$OUT.tmp/bin/lightprompt.mjs"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
rm -rf www/pkg && mkdir -p www/pkg && cp "$OUT/web/lightprompt.js" "$OUT/web/lightprompt_bg.wasm" www/pkg/

size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%8.1f KB", b / 1024 }'; }
gz() { awk -v b="$(gzip -9 -c "$1" | wc -c)" 'BEGIN { printf "%8.1f KB", b / 1024 }'; }
echo "package sizes (raw, gzipped):"
for f in "$OUT/web/lightprompt_bg.wasm" "$OUT/web/lightprompt.js" "$OUT/node/lightprompt.cjs"; do
  printf '  %-32s %s %s\n' "$f" "$(size "$f")" "$(gz "$f")"
done
