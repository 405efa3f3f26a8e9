// Service worker: keeps the app shell and the WebAssembly engine in a versioned cache so the
// page works offline after its first load. Cache first; every hit also refreshes its entry
// from the network in the background (when there is one). Bump VERSION when the shell changes.

const VERSION = "8";
const PREFIX = "lightprompt-shell-";
const CACHE = `${PREFIX}v${VERSION}`;

const SHELL = [
  "./",
  "index.html",
  "app.js",
  "worker.js",
  "style.css",
  "manifest.webmanifest",
  "icon.svg",
  "icon-512.png",
  "pkg/lightprompt.js",
  "pkg/lightprompt_bg.wasm",
  "pkg/glue_web.js",
  "pkg/core.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Bypass the HTTP cache so a new version never caches stale files.
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  event.respondWith(respond(event, request));
});

async function respond(event, request) {
  const cache = await caches.open(CACHE);
  const navigation = request.mode === "navigate";
  let cached = await cache.match(request, { ignoreSearch: navigation });
  if (!cached && navigation) cached = await cache.match("./");

  const refresh = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic" && !request.headers.has("range")) {
      await cache.put(request, response.clone());
    }
    return response;
  });

  if (cached) {
    // Serve the cached copy now; update the cache for next time (ignore being offline).
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}
