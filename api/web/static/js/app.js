/* The courier app: today's route sheets, stop by stop, working without signal.

   Every action (arrived, delivered, picked up, failed, a photo) goes first into an outbox in
   IndexedDB with its client event id, the moment it happened (+08:00) and, when the phone
   allows it, its position; the outbox is sent in order when the connection returns, when
   the app opens and every 20 s. The server decides: its answer (the stop's state) replaces
   the local one; a 409 becomes a conflict the courier reads; a 401 keeps the outbox and asks
   to sign in again. The service worker (/app/sw.js) keeps the shell and the last sheets.

   The village service points view (#points) lists the unlocated villages and townships of
   the courier's county; "this is the village's service point" takes the phone's position
   and puts a proposal (its client_id made once, an optional note and photo) into the same
   outbox: the same loop sends it, then its photo. */
"use strict";

(function () {
  const { t, el } = C;
  const boot = C.boot;
  const REASONS = ["reason_nobody", "reason_address", "reason_refused", "reason_road", "reason_other"];
  const GEO_WAIT_MS = 3000;
  const FIX_WAIT_MS = 10000;
  const POINTS_KEY = "codist-points-" + ((boot.user && boot.user.id) || "");
  const state = { sheets: [], sheet: null, points: null, proposals: [], pointsError: null, pointsQ: "", picked: null, form: null, outbox: [], conflicts: [], syncing: false, signedOut: false, openFail: null };
  const $ = (sel) => document.querySelector(sel);

  // ---- IndexedDB: the outbox and the conflicts ------------------------------------------
  let dbPromise = null;
  function db() {
    dbPromise = dbPromise || new Promise((resolve, reject) => {
      const req = indexedDB.open("codist-courier", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("outbox", { keyPath: "key", autoIncrement: true });
        req.result.createObjectStore("conflicts", { keyPath: "key", autoIncrement: true });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return dbPromise;
  }
  async function store(name, mode, work) {
    const handle = await db();
    return new Promise((resolve, reject) => {
      const tx = handle.transaction(name, mode);
      const req = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
  const all = (name) => store(name, "readonly", (s) => s.getAll());
  const add = (name, item) => store(name, "readwrite", (s) => s.add(item));
  const remove = (name, key) => store(name, "readwrite", (s) => s.delete(key));

  async function reloadQueues() {
    state.outbox = await all("outbox");
    state.conflicts = await all("conflicts");
    const n = state.outbox.length;
    $("#outbox-count").textContent = String(n);
    $("#outbox").dataset.n = String(n);
  }

  // ---- small helpers ---------------------------------------------------------------------
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  /** Now, in Asia/Shanghai: 2026-09-15T10:42:05+08:00 */
  function nowIso() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19) + "+08:00";
  }
  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }
  /** The phone's position if it gives one within 3 s; never blocks an action longer. */
  function position() {
    if (!navigator.geolocation) return Promise.resolve({});
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({}), GEO_WAIT_MS);
      navigator.geolocation.getCurrentPosition(
        (p) => {
          clearTimeout(timer);
          resolve({
            lon: Math.round(p.coords.longitude * 1e6) / 1e6,
            lat: Math.round(p.coords.latitude * 1e6) / 1e6,
            accuracy_m: Math.round(p.coords.accuracy * 10) / 10,
          });
        },
        () => { clearTimeout(timer); resolve({}); },
        { enableHighAccuracy: true, timeout: GEO_WAIT_MS, maximumAge: 60000 },
      );
    });
  }
  function flash(message, kind) {
    const item = el("p", { class: kind || "", role: kind === "error" ? "alert" : "status" }, message);
    $("#flash").prepend(item);
    setTimeout(() => item.remove(), kind === "error" ? 15000 : 5000);
  }
  function detailText(detail, status) {
    return C.ApiError.text(detail, status);
  }
  function showNet() {
    const on = navigator.onLine;
    $("#net").dataset.online = on ? "1" : "0";
    $("#net").textContent = t(on ? "app_online" : "app_offline");
  }
  function signedOut() {
    state.signedOut = true;
    $("#signin").hidden = false;
  }

  // ---- reading the sheets (the service worker answers from its copy offline) ----------------
  async function get(path) {
    const r = await fetch("/api/v1" + path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (r.status === 401) {
      signedOut();
      throw new Error("signed out");
    }
    if (!r.ok) throw new Error(r.headers.get("X-Offline") ? "offline" : "HTTP " + r.status);
    return r.json();
  }
  async function loadSheets() {
    try {
      const page = await get("/route-sheets?limit=200");
      state.sheets = page.items
        .filter((s) => s.status !== "superseded")
        .sort((a, b) => (b.plan_date || "").localeCompare(a.plan_date || "") || b.id - a.id);
      return true;
    } catch (e) {
      return false;
    }
  }
  async function loadSheet(id) {
    try {
      state.sheet = await get("/route-sheets/" + id);
      return true;
    } catch (e) {
      if (!state.sheet || state.sheet.id !== id) state.sheet = null;
      return false;
    }
  }

  // ---- the outbox ------------------------------------------------------------------------------
  async function record(stop, type, extra) {
    const sheet = state.sheet;
    const where = await position();
    const body = { client_event_id: uuid(), seq: stop.seq, type, occurred_at: nowIso(), ...(extra || {}), ...where };
    await add("outbox", { kind: "event", sheet_id: sheet.id, seq: stop.seq, body, created: body.occurred_at });
    await reloadQueues();
    render();
    flash(t("app_queued"));
    sync();
  }
  async function recordPhoto(stop, file) {
    const sheet = state.sheet;
    const pending = state.outbox.filter((i) => i.kind === "event" && i.sheet_id === sheet.id && i.seq === stop.seq);
    const last = pending.length ? pending[pending.length - 1].body.client_event_id : null;
    const blob = new Blob([await file.arrayBuffer()], { type: file.type || "image/jpeg" });
    await add("outbox", {
      kind: "photo", sheet_id: sheet.id, seq: stop.seq, blob, name: file.name || "photo.jpg",
      client_event_id: last, created: nowIso(),
    });
    await reloadQueues();
    render();
    flash(t("app_photo_queued"));
    sync();
  }

  async function post(item) {
    const headers = { Accept: "application/json", "X-CSRF-Token": cookie("codist_csrf") };
    const base = "/api/v1/route-sheets/" + item.sheet_id;
    if (item.kind === "event") {
      headers["Content-Type"] = "application/json";
      return fetch(base + "/events", { method: "POST", headers, body: JSON.stringify(item.body), credentials: "same-origin" });
    }
    const form = new FormData();
    form.append("file", item.blob, item.name);
    if (item.client_event_id) form.append("client_event_id", item.client_event_id);
    return fetch(base + "/stops/" + item.seq + "/photo", { method: "POST", headers, body: form, credentials: "same-origin" });
  }

  /** A proposal, then its photo (a retry resends both: the client_id answers the same one). */
  async function postProposal(item) {
    const headers = { Accept: "application/json", "X-CSRF-Token": cookie("codist_csrf") };
    const r = await fetch("/api/v1/place-proposals", {
      method: "POST", headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(item.body), credentials: "same-origin",
    });
    if (!r.ok || !item.blob) return r;
    const created = await r.clone().json();
    const form = new FormData();
    form.append("file", item.blob, item.name);
    return fetch("/api/v1/place-proposals/" + created.id + "/photo", { method: "POST", headers, body: form, credentials: "same-origin" });
  }
  function conflictOf(item, status, detail) {
    if (item.kind === "proposal") {
      return { kind: "proposal", place_id: item.body.place_id, name: item.name_place, photo: !!item.blob, status, detail, at: nowIso() };
    }
    return { sheet_id: item.sheet_id, seq: item.seq, what: item.kind === "event" ? item.body.type : "photo", status, detail, at: nowIso() };
  }

  /** Send one item: "sent", "refused" (kept as a conflict), or null to stop for now. */
  async function sendOne(item) {
    let r;
    try {
      r = item.kind === "proposal" ? await postProposal(item) : await post(item);
      if (r.status === 422 && item.kind === "photo" && item.client_event_id) {
        // the event it belonged to was not accepted: keep the photo for the stop anyway
        r = await post({ ...item, client_event_id: null });
      }
    } catch (e) {
      return null; // no connection: try again later
    }
    if (r.status === 401) {
      signedOut();
      return null;
    }
    if (r.status >= 500) return null;
    const data = await r.json().catch(() => null);
    if (r.ok) {
      if (item.kind === "event" && data && data.stop) mergeStop(item.sheet_id, data.stop, data.sheet_status);
    } else {
      const detail = detailText(data && data.detail !== undefined ? data.detail : null, r.status);
      await add("conflicts", conflictOf(item, r.status, detail));
    }
    await remove("outbox", item.key);
    return r.ok ? "sent" : "refused";
  }

  async function sync() {
    if (state.syncing || !navigator.onLine) return;
    state.syncing = true;
    let sent = 0;
    let refused = 0;
    try {
      state.signedOut = false;
      $("#signin").hidden = true;
      for (const item of await all("outbox")) {
        const outcome = await sendOne(item);
        if (!outcome) break;
        if (outcome === "sent") sent += 1;
        else refused += 1;
      }
    } finally {
      state.syncing = false;
    }
    await reloadQueues();
    if (sent || refused) {
      if (sent) flash(t("app_sent", { n: sent }));
      await refresh();
    } else {
      render();
    }
  }

  function mergeStop(sheetId, stopState, sheetStatus) {
    if (!state.sheet || state.sheet.id !== sheetId) return;
    const stop = state.sheet.stops.find((s) => s.seq === stopState.seq);
    if (stop) Object.assign(stop, stopState);
    if (sheetStatus) state.sheet.status = sheetStatus;
  }

  // ---- what a stop looks like now (the server's state, then the actions waiting) ----------
  function local(stop) {
    const s = {
      status: stop.status, needs_drop: stop.needs_drop, needs_pickup: stop.needs_pickup,
      delivered: stop.delivered, picked_up: stop.picked_up, waiting: null,
    };
    for (const item of state.outbox) {
      if (item.kind !== "event" || item.sheet_id !== state.sheet.id || item.seq !== stop.seq) continue;
      const type = item.body.type;
      s.waiting = type;
      if (type === "arrived" && s.status === "pending") s.status = "arrived";
      if (type === "delivered") s.delivered = true;
      if (type === "picked_up") s.picked_up = true;
      if (type === "failed") s.status = "failed";
    }
    if (s.status === "arrived" && (s.delivered || !s.needs_drop) && (s.picked_up || !s.needs_pickup)) s.status = "completed";
    return s;
  }

  // ---- drawing ---------------------------------------------------------------------------------
  function render() {
    const id = sheetOfHash();
    const points = onPoints();
    $("#sheets-view").hidden = id !== null || points;
    $("#sheet-view").hidden = id === null;
    $("#points-view").hidden = !points;
    if (points) renderPoints();
    else if (id === null) renderList();
    else renderSheet();
  }
  const onPoints = () => location.hash === "#points";
  function sheetOfHash() {
    const m = /^#sheet-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }
  function renderList() {
    const list = $("#sheets");
    if (!state.sheets.length) {
      list.replaceChildren(el("li", { class: "muted" }, t("app_no_sheets")));
      return;
    }
    list.replaceChildren(...state.sheets.map((s) =>
      el("li", {},
        el("button", { type: "button", class: "sheet-card", dataset: { sheet: s.id }, onclick: () => { location.hash = "sheet-" + s.id; } },
          el("div", { class: "route" }, s.route_id, " ", el("span", { class: "badge" }, t("sheet_" + s.status))),
          el("div", { class: "muted" }, s.plan_date || "", " · ", t("app_stops", { n: s.stops }),
            s.start_time ? " · " + t("app_start", { time: C.time(s.start_time) }) : "",
            " · ", t("app_vehicle"), " ", s.vehicle_id)))));
  }
  function renderSheet() {
    const sheet = state.sheet;
    const head = $("#sheet-head");
    if (!sheet || sheet.id !== sheetOfHash()) {
      head.replaceChildren(el("p", { class: "muted" }, navigator.onLine ? t("loading") : t("app_sheet_missing")));
      $("#stops").replaceChildren();
      renderConflicts(null);
      return;
    }
    const vehicle = sheet.vehicle || {};
    head.replaceChildren(
      el("div", { class: "route" }, sheet.route_id, " ", el("span", { class: "badge" }, t("sheet_" + sheet.status))),
      el("div", { class: "muted" }, sheet.plan_date || "", " · ", vehicle.name || sheet.vehicle_id,
        sheet.start && sheet.start.time ? " · " + t("app_start", { time: C.time(sheet.start.time) }) : ""));
    $("#stops").replaceChildren(...sheet.stops.map(stopItem));
    renderConflicts(sheet.id);
  }
  function renderConflicts(sheetId) {
    const mine = state.conflicts.filter((c) => c.sheet_id === sheetId);
    $("#conflicts").hidden = mine.length === 0;
    $("#conflict-list").replaceChildren(...mine.map((c) =>
      el("li", { dataset: { seq: c.seq } }, conflictText(c), " ",
        el("button", { type: "button", class: "link", onclick: async () => { await remove("conflicts", c.key); await reloadQueues(); render(); } }, t("app_conflict_dismiss")))));
  }
  const conflictText = (c) => t("app_conflict", { seq: c.seq, what: t("ev_" + c.what), detail: c.detail });

  function windowOf(stop) {
    if (stop.window && stop.window.start) return [stop.window.start, stop.window.end];
    if (Array.isArray(stop.time_window) && stop.time_window.length === 2) return stop.time_window;
    return null;
  }
  function orderLine(o) {
    const temp = o.temperature && o.temperature !== "ambient";
    return el("li", {},
      o.goods || o.order_id, " · ", t("app_pieces", { n: o.pieces }), " · ", t("app_kg", { n: C.num(o.weight_kg, 1) }), " ",
      temp ? el("span", { class: "badge cold" }, t(o.temperature === "frozen" ? "app_frozen" : "app_cold")) : null, " ",
      o.live_animal ? el("span", { class: "badge live" }, t("app_live")) : null,
      o.final_destination ? el("div", { class: "muted" }, t("app_held", { name: C.placeName(o.final_destination) })) : null,
      (o.tracking || []).length ? el("div", { class: "tracking" }, o.tracking.join(" ")) : null);
  }
  function groups(title, list) {
    if (!list || !list.length) return null;
    return el("div", { class: "group" }, el("h3", {}, title),
      ...list.map((g) => {
        const orders = g.orders || [];
        const pieces = orders.reduce((n, o) => n + (o.pieces || 0), 0);
        const kg = orders.reduce((n, o) => n + (o.weight_kg || 0), 0);
        const cold = orders.some((o) => o.temperature && o.temperature !== "ambient");
        const live = orders.some((o) => o.live_animal);
        return el("details", { class: "party" },
          el("summary", {}, el("strong", {}, g.party_name_zh || g.party), " · ",
            t("app_orders", { n: orders.length }), " · ", t("app_pieces", { n: pieces }), " · ",
            t("app_kg", { n: C.num(kg, 0) }), " ",
            cold ? el("span", { class: "badge cold" }, t("app_cold")) : null, " ",
            live ? el("span", { class: "badge live" }, t("app_live")) : null),
          el("ul", {}, ...orders.map(orderLine)));
      }));
  }
  function phoneOf(stop) {
    for (const g of [...(stop.drop || []), ...(stop.pickup || [])]) {
      for (const o of g.orders || []) {
        const phone = o.phone || o.contact_phone || o.recipient_phone;
        if (phone) return String(phone);
      }
    }
    return null;
  }
  function links(stop) {
    const p = stop.place || {};
    const located = typeof p.lon === "number" && typeof p.lat === "number" && (p.lon !== 0 || p.lat !== 0);
    const phone = phoneOf(stop);
    const photo = el("input", { type: "file", accept: "image/*", capture: "environment", class: "photo-input", dataset: { seq: stop.seq } });
    photo.addEventListener("change", () => { if (photo.files && photo.files[0]) recordPhoto(stop, photo.files[0]); });
    return el("div", { class: "links" },
      el("label", { class: "photo-label" }, t("app_photo"), photo),
      located ? el("a", { class: "map-link", href: `geo:${p.lat},${p.lon}?q=${p.lat},${p.lon}(${encodeURIComponent(C.placeName(p))})` }, t("app_map")) : null,
      phone ? el("a", { class: "call-link", href: "tel:" + phone.replace(/[^0-9+]/g, "") }, t("app_call")) : null);
  }
  function actions(stop, s) {
    if (s.status === "completed" || s.status === "failed") return null;
    const button = (type, label, extra) =>
      el("button", { type: "button", class: "primary act", dataset: { act: type }, onclick: () => record(stop, type, extra) }, t(label));
    const box = el("div", { class: "actions" });
    if (s.status === "pending") box.append(button("arrived", "app_arrived"));
    if (s.status === "arrived" && s.needs_drop && !s.delivered) box.append(button("delivered", "app_delivered"));
    if (s.status === "arrived" && s.needs_pickup && !s.picked_up) box.append(button("picked_up", "app_picked_up"));
    const form = failForm(stop);
    box.append(el("button", { type: "button", class: "act", dataset: { act: "failed" }, onclick: () => { form.hidden = !form.hidden; } }, t("app_failed")));
    return [box, form];
  }
  function failForm(stop) {
    const select = el("select", { class: "fail-reason", "aria-label": t("app_fail_reason") },
      ...REASONS.map((k) => el("option", { value: k }, t(k))));
    const other = el("input", { type: "text", class: "fail-text", maxlength: "400", placeholder: t("app_fail_other_text"), hidden: true });
    select.addEventListener("change", () => { other.hidden = select.value !== "reason_other"; });
    const confirm = el("button", { type: "button", class: "primary", dataset: { act: "fail-confirm" }, onclick: () => {
      const words = t(select.value);
      const reason = select.value === "reason_other" ? (other.value.trim() ? words + "：" + other.value.trim() : "") : words;
      if (!reason) { other.focus(); return; }
      record(stop, "failed", { reason });
    } }, t("app_fail_confirm"));
    return el("div", { class: "fail-form", hidden: true }, el("label", {}, t("app_fail_reason"), select), other, confirm);
  }
  function stopItem(stop) {
    const s = local(stop);
    const win = windowOf(stop);
    const photos = state.outbox.filter((i) => i.kind === "photo" && i.sheet_id === state.sheet.id && i.seq === stop.seq).length;
    const label = s.waiting ? t("ev_" + s.waiting) + t("app_waiting") : t("state_" + s.status);
    const kind = s.waiting ? "wait" : s.status === "completed" ? "ok" : s.status === "failed" ? "bad" : "";
    const load = stop.load_after || {};
    const conflicts = state.conflicts.filter((c) => c.sheet_id === state.sheet.id && c.seq === stop.seq);
    return el("li", { class: "stop", dataset: { seq: stop.seq, state: s.status } },
      el("div", { class: "top" },
        el("span", { class: "seq" }, "#" + stop.seq),
        el("span", { class: "name" }, C.placeName(stop.place)),
        el("span", { class: "badge state " + kind }, label),
        photos ? el("span", { class: "badge wait" }, t("ev_photo") + " ×" + photos + t("app_waiting")) : null),
      el("div", { class: "times" }, t("app_eta"), " ", C.time(stop.arrival),
        win ? ` · ${t("app_window")} ${C.time(win[0])}–${C.time(win[1])}` : "",
        stop.note ? " · " + stop.note : ""),
      groups(t("app_down"), stop.drop),
      groups(t("app_up"), stop.pickup),
      el("div", { class: "muted" }, t("app_load_after", { kg: C.num(load.kg, 0), m3: C.num(load.m3, 2) })),
      ...conflicts.map((c) => el("div", { class: "conflict" }, conflictText(c))),
      actions(stop, s),
      links(stop));
  }

  // ---- village service points ---------------------------------------------------------------
  /** GET under /api/v1 with the server's reason on a refusal (403: a trunk courier). */
  async function getJson(path) {
    const r = await fetch("/api/v1" + path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (r.status === 401) signedOut();
    const data = await r.json().catch(() => null);
    if (!r.ok) throw new Error(detailText(data && data.detail !== undefined ? data.detail : null, r.status));
    return data;
  }
  /** The county's unlocated villages and townships and the courier's proposals; offline,
      the copy kept from the last time. */
  async function loadPoints() {
    if (!navigator.onLine) {
      if (!state.points) {
        const kept = JSON.parse(localStorage.getItem(POINTS_KEY) || "null");
        if (kept) Object.assign(state, { points: kept.points, proposals: kept.proposals });
      }
      render();
      return;
    }
    try {
      const [places, mine] = await Promise.all([
        getJson("/places?located=false&limit=500"),
        getJson("/place-proposals?limit=500"),
      ]);
      state.points = places.items.filter((p) => p.kind === "village" || p.kind === "township");
      state.proposals = mine.items;
      state.pointsError = null;
      localStorage.setItem(POINTS_KEY, JSON.stringify({ points: state.points, proposals: state.proposals }));
    } catch (e) {
      state.pointsError = e.message;
    }
    render();
  }

  /** The phone's position for a service point: high accuracy, 10 s; rejects with words. */
  function fix() {
    if (!navigator.geolocation) return Promise.reject(new Error(t("app_geo_none")));
    return new Promise((resolve, reject) => {
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({
          lon: Math.round(p.coords.longitude * 1e6) / 1e6,
          lat: Math.round(p.coords.latitude * 1e6) / 1e6,
          accuracy_m: Math.round(p.coords.accuracy * 10) / 10,
        }),
        (err) => reject(new Error(err.code === 1 ? t("app_geo_denied") : err.code === 3 ? t("app_geo_timeout") : t("app_geo_failed"))),
        { enableHighAccuracy: true, timeout: FIX_WAIT_MS, maximumAge: 0 },
      );
    });
  }

  async function queueProposal(place, where, note, file) {
    const body = { place_id: place.id, lon: where.lon, lat: where.lat, accuracy_m: where.accuracy_m, note, client_id: uuid() };
    const item = { kind: "proposal", body, name_place: place.name_zh, created: nowIso() };
    if (file) {
      item.blob = new Blob([await file.arrayBuffer()], { type: file.type || "image/jpeg" });
      item.name = file.name || "photo.jpg";
    }
    await add("outbox", item);
    state.picked = null;
    state.form = null;
    await reloadQueues();
    render();
    flash(t("app_point_queued", { name: C.placeName(place) }));
    sync();
  }

  function renderPoints() {
    const mine = state.conflicts.filter((c) => c.kind === "proposal");
    $("#point-conflicts").hidden = mine.length === 0;
    $("#point-conflict-list").replaceChildren(...mine.map((c) =>
      el("li", { dataset: { place: c.place_id } }, t("app_point_conflict", { name: c.name, detail: c.detail }), " ",
        el("button", { type: "button", class: "link", onclick: async () => { await remove("conflicts", c.key); await reloadQueues(); render(); } }, t("app_conflict_dismiss")))));
    renderProposals();
    renderPointList();
  }
  function renderProposals() {
    const waiting = state.outbox.filter((i) => i.kind === "proposal");
    const rows = [
      ...waiting.map((i) => el("li", { class: "proposal", dataset: { status: "waiting" } },
        el("strong", {}, i.name_place), " ", el("span", { class: "badge wait" }, t("app_point_waiting")),
        el("div", { class: "muted" }, t("app_point_accuracy", { m: C.num(i.body.accuracy_m, 0) })))),
      ...state.proposals.map((p) => el("li", { class: "proposal", dataset: { status: p.status, id: p.id } },
        el("strong", {}, C.placeName(p.place)), " ",
        el("span", { class: "badge " + ({ accepted: "ok", rejected: "bad", superseded: "" }[p.status] || "") }, t("prop_" + p.status)),
        el("div", { class: "muted" }, C.dateTime(p.proposed_at),
          p.accuracy_m !== null ? " · " + t("app_point_accuracy", { m: C.num(p.accuracy_m, 0) }) : "",
          p.review_note ? " · " + p.review_note : ""))),
    ];
    $("#my-proposals").replaceChildren(...(rows.length ? rows : [el("li", { class: "muted" }, t("app_no_proposals"))]));
  }
  function renderPointList() {
    const list = $("#points-list");
    if (state.points === null) {
      list.replaceChildren(el("li", { class: state.pointsError ? "error" : "muted" }, state.pointsError || (navigator.onLine ? t("loading") : t("app_points_missing"))));
      return;
    }
    const q = state.pointsQ.toLowerCase();
    const shown = state.points.filter((p) => !q || [p.name_zh, p.name_pinyin, p.township_zh || ""].some((n) => n.toLowerCase().includes(q)));
    $("#points-count").textContent = t("app_points_count", { n: shown.length, all: state.points.length });
    if (!shown.length) {
      list.replaceChildren(el("li", { class: "muted" }, t("app_points_none")));
      return;
    }
    list.replaceChildren(...shown.map(pointItem));
  }
  function pointItem(p) {
    const waiting = state.outbox.some((i) => i.kind === "proposal" && i.body.place_id === p.id);
    const open = state.proposals.some((x) => x.place.id === p.id && x.status === "proposed");
    return el("li", { class: "point", dataset: { place: p.id } },
      el("div", { class: "top" },
        el("span", { class: "name" }, C.placeName(p)),
        el("span", { class: "badge" }, t("kind_" + p.kind)),
        waiting ? el("span", { class: "badge wait" }, t("app_point_waiting")) : null,
        open ? el("span", { class: "badge" }, t("prop_proposed")) : null),
      el("div", { class: "muted" }, p.kind === "village" && p.township_zh ? (boot.lang === "en" ? p.township_pinyin || p.township_zh : p.township_zh) : "", " · ", p.id),
      state.picked === p.id ? formFor(p) :
        el("button", { type: "button", class: "primary here", dataset: { act: "here" }, onclick: () => { state.picked = p.id; renderPointList(); } }, t("app_point_here")));
  }
  /** The open form survives redraws (a sync, a filter) with its position and note. */
  function formFor(place) {
    if (!state.form || state.form.id !== place.id) state.form = { id: place.id, node: pointForm(place) };
    return state.form.node;
  }
  function pointForm(place) {
    const where = el("div", { class: "fix muted", role: "status" }, t("app_point_locating"));
    const note = el("input", { type: "text", class: "point-note", maxlength: "400", placeholder: t("app_point_note") });
    const photo = el("input", { type: "file", accept: "image/*", capture: "environment", class: "point-photo" });
    const save = el("button", { type: "button", class: "primary", dataset: { act: "point-save" }, disabled: true }, t("app_point_save"));
    const retry = el("button", { type: "button", dataset: { act: "point-retry" } }, t("app_point_retry"));
    let got = null;
    const locate = async () => {
      got = null;
      save.disabled = true;
      where.className = "fix muted";
      where.textContent = t("app_point_locating");
      try {
        got = await fix();
        where.className = "fix ok";
        where.textContent = t("app_point_position", { lat: got.lat.toFixed(5), lon: got.lon.toFixed(5), m: C.num(got.accuracy_m, 0) });
        save.disabled = false;
      } catch (e) {
        where.className = "fix error";
        where.textContent = e.message;
      }
    };
    const chosen = el("span", { class: "chosen" });
    photo.addEventListener("change", () => { chosen.textContent = photo.files && photo.files[0] ? "✓ " + photo.files[0].name : ""; });
    retry.addEventListener("click", locate);
    save.addEventListener("click", () => {
      if (!got) return;
      save.disabled = true;
      queueProposal(place, got, note.value.trim(), photo.files && photo.files[0]);
    });
    const cancel = el("button", { type: "button", class: "link", onclick: () => { state.picked = null; state.form = null; renderPointList(); } }, t("app_point_cancel"));
    locate();
    return el("div", { class: "point-form" }, where,
      el("label", {}, t("app_point_note"), note),
      el("label", { class: "photo-label" }, t("app_point_photo"), photo, chosen),
      el("div", { class: "row" }, save, retry, cancel));
  }

  // ---- start -------------------------------------------------------------------------------------
  async function refresh() {
    if (onPoints()) await loadPoints();
    const listed = await loadSheets();
    const id = sheetOfHash();
    if (id !== null) await loadSheet(id);
    if (!listed && !navigator.onLine) flash(t("app_from_cache"), "warn");
    render();
  }

  async function start() {
    showNet();
    window.addEventListener("online", () => { showNet(); sync(); });
    window.addEventListener("offline", showNet);
    window.addEventListener("hashchange", async () => {
      const id = sheetOfHash();
      if (id !== null && (!state.sheet || state.sheet.id !== id)) { state.sheet = null; render(); await loadSheet(id); }
      if (onPoints()) { render(); await loadPoints(); }
      render();
      window.scrollTo(0, 0);
    });
    $("#back").addEventListener("click", () => { location.hash = ""; });
    $("#points-back").addEventListener("click", () => { location.hash = ""; });
    $("#points-open").addEventListener("click", () => { location.hash = "points"; });
    $("#points-q").addEventListener("input", (e) => { state.pointsQ = e.target.value.trim(); renderPointList(); });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch((e) => console.warn("service worker", e));
    }
    await reloadQueues();
    await refresh();
    document.body.dataset.appReady = "1";
    sync();
    setInterval(sync, boot.sync_ms || 20000);
  }

  start();
})();
