// Installable newsroom: each newsroom page registers the service worker for its own address,
// then hands it the files it loaded, so the page opens again without a network (sw.js).

export function installable() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  const scope = window.location.pathname; // "/editor", "/dashboard", "/people" or "/audit"
  navigator.serviceWorker
    .register("/newsroom-sw.js", { scope })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      const files = performance
        .getEntriesByType("resource")
        .map((entry) => entry.name)
        .filter((name) => name.startsWith(`${window.location.origin}/static/`));
      registration.active?.postMessage({ type: "keep", urls: [scope, ...files] });
    })
    .catch(() => {
      // No worker (a private window, a browser that refuses): the pages work as before.
    });
}
