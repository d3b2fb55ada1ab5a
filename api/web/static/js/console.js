/* The console's shared helpers: boot data and words, the JSON API (session cookie + CSRF
   header), times in Asia/Shanghai, money in fen, route colours and the bundled base map.
   Page scripts use window.C; nothing here decides anything the API does not say. */
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent || "{}");
  const words = boot.strings || {};
  const TZ = "Asia/Shanghai";
  const locale = boot.lang === "en" ? "en-GB" : "zh-CN";

  function t(key, vars) {
    let s = words[key] !== undefined ? words[key] : key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(ApiError.text(detail, status));
      this.status = status;
      this.detail = detail;
    }
    static text(detail, status) {
      if (Array.isArray(detail)) {
        return detail
          .map((d) => {
            const loc = (d.loc || []).filter((x) => x !== "body" && x !== "query").join(".");
            return (loc ? loc + ": " : "") + d.msg;
          })
          .join("; ");
      }
      if (typeof detail === "string") return detail;
      return "HTTP " + status;
    }
  }

  /** Call the JSON API: api("/plans/3") or api("/plans", {method: "POST", body: {...}}).
      A FormData body is sent as multipart. Resolves to the JSON (or text), rejects ApiError. */
  async function api(path, opts = {}) {
    const method = opts.method || "GET";
    const headers = { Accept: "application/json" };
    let body = opts.body;
    if (method !== "GET") headers["X-CSRF-Token"] = cookie("codist_csrf");
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    Object.assign(headers, opts.headers || {});
    const url = path.startsWith("/api/") ? path : "/api/v1" + path;
    const r = await fetch(url, { method, headers, body, credentials: "same-origin" });
    if (r.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, "signed out");
    }
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new ApiError(r.status, data && data.detail !== undefined ? data.detail : data);
    return data;
  }

  const timeFmt = new Intl.DateTimeFormat(locale, {
    timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const dateTimeFmt = new Intl.DateTimeFormat(locale, {
    timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const time = (iso) => (iso ? timeFmt.format(new Date(iso)) : "–");
  const dateTime = (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : "–");
  const yuan = (fen) =>
    fen === null || fen === undefined
      ? "–"
      : "¥" + (fen / 100).toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const num = (x, digits = 1) =>
    x === null || x === undefined ? "–" : Number(x).toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits });

  /** A colour per route index: golden-angle hues, two lightness bands, never repeating
      within a day's routes. */
  function colour(i) {
    const hue = Math.round((i * 137.508) % 360);
    const light = [40, 30, 50][Math.floor(i / 24) % 3];
    return "hsl(" + hue + ", 75%, " + light + "%)";
  }

  const counties = Object.fromEntries((boot.counties || []).map((c) => [c.code, c]));
  function countyName(code) {
    if (!code) return t("trunk");
    const c = counties[code];
    if (!c) return code;
    return boot.lang === "en" ? c.name_en.replace(" County", "").replace(" City", "") : c.name_zh;
  }
  /** Whose plan it is: the whole prefecture, or one county. */
  const planScope = (p) => ((p.counties || []).length > 1 ? t("prefecture") : countyName((p.counties || [])[0]));
  /** A plan as a select option reads it: "#3 · 2026-09-15 · 全州 · 已发布". */
  const planLabel = (p) => `#${p.id} · ${p.plan_date} · ${planScope(p)} · ${t("status_" + p.status)}`;
  const placeName = (p) => (p ? (boot.lang === "en" && p.name_pinyin ? p.name_pinyin : p.name_zh || p.id) : "–");

  /** Fill a <select> with the plans the user may see (newest first) and select ``wanted``
      if it is one of them, else the newest: resolves to {items, planId}. */
  async function planSelect(select, wanted) {
    const data = await api("/plans?sort=-id&limit=100");
    select.replaceChildren(...data.items.map((p) => el("option", { value: p.id }, planLabel(p))));
    const planId = data.items.some((p) => p.id === wanted) ? wanted : data.items.length ? data.items[0].id : null;
    if (planId) select.value = String(planId);
    return { items: data.items, planId };
  }

  /** el("td", {class: "num", title: "x"}, "text", childNode) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function flash(message, kind = "info", where) {
    const box = where || document.getElementById("flash");
    if (!box) return;
    const item = el("p", { class: "alert " + kind, role: kind === "error" ? "alert" : "status" }, message);
    box.prepend(item);
    if (kind !== "error") setTimeout(() => item.remove(), 8000);
    else item.append(el("button", { class: "link", type: "button", onclick: () => item.remove() }, "×"));
  }

  /** Follow a planning job until it ends; onProgress(plan) at each poll. */
  async function waitPlan(id, onProgress, everyMs = 1000) {
    for (;;) {
      const plan = await api("/plans/" + id);
      if (onProgress) onProgress(plan);
      if (plan.status !== "queued" && plan.status !== "running") return plan;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  function progressBar(plan) {
    const pct = Math.round(100 * (plan.progress || 0));
    return el(
      "div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
      el("div", { class: "bar", style: "width:" + pct + "%" }),
      el("span", { class: "label" }, t("plan") + " #" + plan.id + " · " + t("status_" + plan.status) + " · " + pct + "% " + (plan.message || "")),
    );
  }

  // ---- the base map: county outlines, roads and places from the bundled network -------
  let basemapData = null;
  async function baseMap(node, opts = {}) {
    const map = L.map(node, { zoomSnap: 0.25, preferCanvas: false, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(t("map_attribution"));
    map.createPane("outline").style.zIndex = 250;
    map.createPane("roads").style.zIndex = 300;
    map.setView([25.4, 101.6], 8);
    basemapData = basemapData || (await api("/basemap"));
    const outlines = L.geoJSON(basemapData, {
      pane: "outline",
      filter: (f) => f.properties.layer === "county",
      style: (f) => ({
        color: "#6b7280", weight: 1.2, fillColor: f.properties.served ? "#f4efe6" : "#e5e7eb", fillOpacity: 0.9,
      }),
      onEachFeature: (f, layer) => layer.bindTooltip(boot.lang === "en" ? f.properties.name_en : f.properties.name_zh, { sticky: true, className: "county-tip" }),
    }).addTo(map);
    const weights = { expressway: 3, trunk: 2.5, provincial: 2, county: 1.5 };
    L.geoJSON(basemapData, {
      pane: "roads",
      filter: (f) => f.properties.layer === "road",
      style: (f) => ({ color: "#b8a98f", weight: weights[f.properties.class] || 1, opacity: 0.9, interactive: false }),
    }).addTo(map);
    if (opts.places !== false) {
      L.geoJSON(basemapData, {
        pane: "roads",
        filter: (f) => f.properties.layer === "place",
        pointToLayer: (f, ll) => {
          const p = f.properties;
          const depot = p.kind === "hub" || p.kind === "warehouse";
          return L.circleMarker(ll, {
            pane: "roads", radius: depot ? 5 : 2.5, color: depot ? "#111827" : "#8b7d6b", weight: 1,
            fillColor: depot ? "#fbbf24" : "#fff", fillOpacity: 1,
          }).bindTooltip(placeName(p) + (depot ? "" : ""), { direction: "top" });
        },
      }).addTo(map);
    }
    const served = L.geoJSON(basemapData, { filter: (f) => f.properties.layer === "county" && f.properties.served });
    map.fitBounds((served.getLayers().length ? served : outlines).getBounds(), { padding: [8, 8] });
    map.basemap = basemapData;
    return map;
  }

  document.querySelectorAll("[data-county-name]").forEach((n) => (n.textContent = countyName(n.dataset.countyName)));

  window.C = {
    boot, t, api, ApiError, time, dateTime, yuan, num, colour, countyName, placeName, planScope,
    planLabel, planSelect, el, flash,
    waitPlan, progressBar, baseMap, cookie,
  };
})();
