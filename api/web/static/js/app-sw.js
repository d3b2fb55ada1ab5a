/* The courier app's service worker (served as /app/sw.js, scope /app): keeps the app shell
   and the last route sheets fetched, so the app starts and shows its sheet without signal.
   Pages: network first, the cached copy offline. Static files: cached copy first, refreshed
   in the background. The sheets' JSON (GET /api/v1/route-sheets...): network first, the
   last answer offline. Nothing else is touched (events and photos go out from the page's
   outbox when it is online). */
"use strict";

const SHELL = "codist-app-shell-v1";
const DATA = "codist-app-data-v1";
// the shell's addresses: filled in by the route that serves this file (pages.APP_SHELL)
const SHELL_URLS = /* APP_SHELL */ [];

async function keep(cacheName, request, response) {
  // a page answered by a redirect (signed out) is not the app: never keep it
  if (!response || !response.ok || response.redirected || response.type === "opaqueredirect") return;
  const cache = await caches.open(cacheName);
  await cache.put(request, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      for (const url of SHELL_URLS) {
        try {
          const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
          await keep(SHELL, url, response);
        } catch (e) {
          /* offline while installing: kept at the next fetch */
        }
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== SHELL && name !== DATA) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

async function networkFirst(request, cacheName, key) {
  try {
    const response = await fetch(request);
    await keep(cacheName, key || request, response.clone());
    return response;
  } catch (e) {
    const cached = await caches.match(key || request, { ignoreVary: true });
    if (cached) return cached;
    return new Response(JSON.stringify({ detail: "offline" }), {
      status: 503,
      headers: { "Content-Type": "application/json", "X-Offline": "1" },
    });
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { ignoreSearch: false });
  const refresh = fetch(request)
    .then(async (response) => {
      await keep(SHELL, request, response.clone());
      return response;
    })
    .catch(() => null);
  if (cached) return cached;
  const fresh = await refresh;
  return fresh || new Response("", { status: 503 });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && (url.pathname === "/app" || url.pathname === "/app/")) {
    event.respondWith(networkFirst(request, SHELL, "/app"));
  } else if (url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(networkFirst(request, SHELL));
  } else if (url.pathname.startsWith("/api/v1/route-sheets") && !url.pathname.endsWith("/photo")) {
    event.respondWith(networkFirst(request, DATA));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  }
});
