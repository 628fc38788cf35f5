// The newsroom's service worker (served at /newsroom-sw.js, registered for /editor, /dashboard,
// /people and /audit): it keeps the pages and their files so the console opens from the home screen
// without a network. It never touches the API or the streams: entries written offline wait in
// the console's outbox (localStorage) and go when the phone is back online.

const CACHE = "liveblog-newsroom";
const PAGES = new Set(["/editor", "/dashboard", "/people", "/audit"]);

self.addEventListener("install", (event) => {
  // The API, the streams and photos never pass through this worker where the browser can say
  // so up front (the static routing API): no worker start-up in their way, and a request
  // fails or succeeds exactly as the network makes it.
  if (event.addRoutes && typeof URLPattern === "function") {
    const network = (pathname) => ({ condition: { urlPattern: new URLPattern({ pathname }) }, source: "network" });
    event.waitUntil(event.addRoutes([network("/api/*"), network("/media/*"), network("/blogs/*")]).catch(() => {}));
  }
  self.skipWaiting();
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A page tells what it loaded (its own address and its /static/ files), so the next start
// without a network finds all of it.
self.addEventListener("message", (event) => {
  const urls = event.data?.type === "keep" && Array.isArray(event.data.urls) ? event.data.urls : [];
  event.waitUntil(Promise.all(urls.map(keep)));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && PAGES.has(url.pathname)) {
    event.respondWith(fresh(request, url.pathname));
  } else if (url.pathname.startsWith("/static/") && url.searchParams.has("v")) {
    event.respondWith(file(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(fresh(request, url.href)); // a module's imports carry no hash
  }
  // Anything else (the API, the streams, photos) goes to the network as if there were no worker.
});

/** A page, or a file without a hash: the network first (the newest); without one, the copy
 * kept last. */
async function fresh(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw error;
  }
}

/** A file whose address carries its content hash (?v=): kept once, never fetched again. */
async function file(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await store(cache, request.url, response.clone());
  return response;
}

async function keep(address) {
  try {
    const url = new URL(address, self.location.origin);
    if (url.origin !== self.location.origin) return;
    const cache = await caches.open(CACHE);
    if (PAGES.has(url.pathname)) {
      const response = await fetch(url.pathname, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) await cache.put(url.pathname, response);
    } else if (url.pathname.startsWith("/static/") && url.searchParams.has("v")) {
      if (!(await cache.match(url.href))) {
        const response = await fetch(url.href);
        if (response.ok) await store(cache, url.href, response);
      }
    } else if (url.pathname.startsWith("/static/")) {
      const response = await fetch(url.href, { cache: "no-cache" });
      if (response.ok) await cache.put(url.href, response);
    }
  } catch {
    // Offline or refused: it is kept on a later visit.
  }
}

/** Keep one version of each file: an older one (another ?v=) goes, so the cache stays bounded. */
async function store(cache, address, response) {
  const url = new URL(address);
  for (const old of await cache.keys()) {
    const oldUrl = new URL(old.url);
    if (oldUrl.pathname === url.pathname && oldUrl.search !== url.search) await cache.delete(old);
  }
  await cache.put(address, response);
}
