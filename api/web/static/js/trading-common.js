/* The trading centre's shared helpers (window.T), over console.js (window.C): places to
   pick from the bundled base map, idempotency keys made once per intent, 422 messages put
   next to their field, Beijing-time inputs, the labels of vehicle types and temperatures.
   Nothing here decides what the API decides. */
"use strict";

(function () {
  const { t, el, boot } = C;
  const has = (key) => boot.strings && boot.strings[key] !== undefined;

  // ---- words -------------------------------------------------------------------------
  const vehicle = (code) => (has("vt_" + code) ? t("vt_" + code) : code || "–");
  const temp = (code) => (has("temp_" + code) ? t("temp_" + code) : code || "–");
  const kg = (x) => C.num(x, 0) + " kg";
  const m3 = (x) => C.num(x, 1) + " m³";

  // ---- Beijing time in datetime-local inputs -----------------------------------------
  /** "2026-09-15T10:00" (typed, Beijing time) -> "2026-09-15T10:00:00+08:00"; "" -> null. */
  function iso(value) {
    if (!value) return null;
    return (value.length === 16 ? value + ":00" : value) + "+08:00";
  }
  const inputFmt = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  /** An instant as a datetime-local value in Beijing time. */
  const local = (when) => inputFmt.format(when instanceof Date ? when : new Date(when)).replace(" ", "T").slice(0, 16);
  /** The day after ``today`` (YYYY-MM-DD) + "T" + hh:mm. */
  function dayAt(offsetDays, hhmm) {
    const d = new Date(boot.today + "T00:00:00+08:00");
    d.setUTCDate(d.getUTCDate() + offsetDays);
    return local(d).slice(0, 10) + "T" + hhmm;
  }

  // ---- idempotency keys: one per intent (a retry or a double tap sends the same) ---------
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  function key(intent) {
    const name = "codist-key:" + intent;
    let k = sessionStorage.getItem(name);
    if (!k) { k = newKey(); sessionStorage.setItem(name, k); }
    return k;
  }
  const dropKey = (intent) => sessionStorage.removeItem("codist-key:" + intent);

  // ---- form errors next to their field -----------------------------------------------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((n) => n.remove());
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    const box = form.querySelector(".form-errors");
    if (box) box.replaceChildren();
  }
  /** Show an ApiError on ``form``: each 422 item at the field its ``loc`` names
      ([data-field="stops.1.time"], else its shortest prefix that has one), the rest in
      the form's .form-errors box. ``rename`` maps an API field to a form field. */
  function showErrors(form, err, rename = {}) {
    clearErrors(form);
    const box = form.querySelector(".form-errors");
    const items = Array.isArray(err.detail) ? err.detail : [{ loc: [], msg: err.message }];
    let first = null;
    for (const d of items) {
      const loc = (d.loc || []).filter((x) => x !== "body" && x !== "query" && x !== "header");
      let target = null;
      for (let n = loc.length; n > 0 && !target; n--) {
        const name = loc.slice(0, n).join(".");
        target = form.querySelector(`[data-field="${rename[name] || name}"]`);
      }
      const text = (d.msg || "").replace(/^Value error, /, "");
      if (target) {
        target.append(el("p", { class: "field-error", role: "alert" }, text));
        const input = target.querySelector("input, select, textarea");
        if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
      } else if (box) {
        box.append(el("p", { class: "alert error", role: "alert" }, (loc.length ? loc.join(".") + ": " : "") + text));
      }
    }
    if (first) first.focus();
  }

  /** Run ``work`` with ``button`` disabled and showing ``busyText``. */
  async function busy(button, busyText, work) {
    const text = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (busyText) button.textContent = busyText;
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = text;
    }
  }

  // ---- places (from the bundled base map) ----------------------------------------------
  const places = new Map();
  function placeOption(p) {
    return `${C.placeName(p)} (${p.id})`;
  }
  /** The places of the base map (warehouse, hubs, townships, villages), and the datalist. */
  async function loadPlaces(datalist) {
    const data = await C.api("/basemap");
    const order = { warehouse: 0, hub: 1, township: 2, village: 3 };
    const list = data.features.filter((f) => f.properties.layer === "place")
      .map((f) => ({ ...f.properties, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] }))
      .sort((a, b) => (order[a.kind] ?? 9) - (order[b.kind] ?? 9) || String(a.id).localeCompare(String(b.id)));
    for (const p of list) places.set(p.id, p);
    if (datalist) datalist.replaceChildren(...list.map((p) => el("option", { value: placeOption(p) }, C.countyName(p.county_code))));
    return places;
  }
  /** The place an input names: "name (id)", an id, or a unique name. */
  function placeOf(text) {
    const value = (text || "").trim();
    if (!value) return null;
    const m = value.match(/\(([^()]+)\)\s*$/);
    if (m && places.has(m[1])) return places.get(m[1]);
    if (places.has(value)) return places.get(value);
    const named = [...places.values()].filter((p) => p.name_zh === value || p.name_pinyin === value);
    return named.length === 1 ? named[0] : null;
  }
  /** A point the API answered (with place, name_zh...) or a stop, as a name. */
  function pointName(p) {
    if (!p) return "–";
    const known = p.place && places.get(p.place);
    if (known) return C.placeName(known);
    if (p.name_zh) return boot.lang === "en" && p.name_pinyin ? p.name_pinyin : p.name_zh;
    if (p.place) return p.place;
    return `${Number(p.lon).toFixed(3)}, ${Number(p.lat).toFixed(3)}`;
  }

  /** The base map with the places as small clickable dots: onPick(place). */
  async function pickMap(node, onPick) {
    const map = await C.baseMap(node, { places: false });
    const radius = { warehouse: 6, hub: 6, township: 4.5, village: 3 };
    for (const p of places.values()) {
      const depot = p.kind === "hub" || p.kind === "warehouse";
      const m = L.circleMarker([p.lat, p.lon], {
        radius: radius[p.kind] || 3.5, color: depot ? "#111827" : "#6b5d4b", weight: 1,
        fillColor: depot ? "#fbbf24" : "#fff", fillOpacity: 1, className: "place-pick",
      }).addTo(map);
      m.bindTooltip(C.placeName(p), { direction: "top" });
      if (onPick) m.on("click", () => onPick(p));
      const node2 = m.getElement();
      if (node2) node2.dataset.place = p.id;
    }
    return map;
  }

  const ready = () => document.body.setAttribute("data-trade-ready", "1");
  const empty = (text) => el("p", { class: "empty hint" }, text);
  const loading = () => el("p", { class: "hint loading" }, t("loading"));
  const badge = (text, kind) => el("span", { class: "badge" + (kind ? " " + kind : "") }, text);
  const status = (s) => badge(t("st_" + s), { open: "ok", active: "ok", confirmed: "ok", booked: "up", disputed: "bad", cancelled: "", closed: "", withdrawn: "" }[s]);

  window.T = {
    vehicle, temp, kg, m3, iso, local, dayAt, key, dropKey, newKey, clearErrors, showErrors, busy,
    places, loadPlaces, placeOf, placeOption, pointName, pickMap, ready, empty, loading, badge, status, has,
  };
})();
