/* Closures and replanning: close a road between two places picked on the map, list the
   closures (red on the map), the plans of the day with the closures that flag them, replan
   a flagged published plan from a moment and compare the replan with the plan it replaces.
   Everything shown comes from the JSON API (/closures, /plans, /plans/{id}/compare). */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const params = new URLSearchParams(location.search);
  const state = {
    map: null, places: new Map(), markers: new Map(), pair: [null, null], preview: null,
    closureLayer: null, planLayer: null, compareLayer: null, day: null, planId: null,
  };

  // ---- times: datetime-local inputs are Beijing time ----------------------------------
  /** "2026-09-15T10:00" (as typed, Beijing time) -> "2026-09-15T10:00:00+08:00". */
  function isoShanghai(value) {
    if (!value) return null;
    return (value.length === 16 ? value + ":00" : value) + "+08:00";
  }
  function nowShanghai() {
    const f = new Intl.DateTimeFormat("sv-SE", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    });
    return f.format(new Date()).replace(" ", "T").slice(0, 16);
  }
  const placeLabel = (id) => (state.places.has(id) ? C.placeName(state.places.get(id)) : id);

  // ---- the map: places to pick --------------------------------------------------------
  async function drawMap() {
    state.map = await C.baseMap($("#map"), { places: false });
    state.planLayer = L.layerGroup().addTo(state.map);
    state.compareLayer = L.layerGroup().addTo(state.map);
    state.closureLayer = L.layerGroup().addTo(state.map);
    const list = $("#place-list");
    const radius = { warehouse: 6, hub: 6, township: 5, village: 3.5 };
    for (const f of state.map.basemap.features) {
      if (f.properties.layer !== "place") continue;
      const p = f.properties;
      const [lon, lat] = f.geometry.coordinates;
      state.places.set(p.id, p);
      const depot = p.kind === "hub" || p.kind === "warehouse";
      const m = L.circleMarker([lat, lon], {
        radius: radius[p.kind] || 4, color: depot ? "#111827" : "#6b5d4b", weight: 1,
        fillColor: depot ? "#fbbf24" : "#fff", fillOpacity: 1, className: "place-pick",
      }).addTo(state.map);
      m.bindTooltip(t("cl_place_tip", { name: C.placeName(p) }), { direction: "top" });
      m.on("click", () => pick(p.id));
      const node = m.getElement();
      node.dataset.place = p.id;
      node.dataset.name = p.name_zh || "";
      state.markers.set(p.id, m);
      list.append(el("option", { value: p.id }, `${p.name_zh || p.id} · ${p.name_pinyin || ""} · ${C.countyName(p.county_code)}`));
    }
  }

  /** Choose an end of the road: the first click is one end, the second the other; a third
      starts a new pair. The map and the typed-in place both come here. */
  function pick(id) {
    const [a, b] = state.pair;
    if (!a || b) state.pair = [id, null];
    else if (id !== a) state.pair = [a, id];
    showPair();
  }

  function showPair() {
    const [a, b] = state.pair;
    for (const [node, id] of [[$("#from-name"), a], [$("#to-name"), b]]) {
      node.textContent = id ? placeLabel(id) + " (" + id + ")" : t("cl_not_picked");
      node.dataset.place = id || "";
      node.classList.toggle("picked", !!id);
    }
    for (const [id, m] of state.markers) {
      const on = id === a || id === b;
      m.getElement().classList.toggle("picked", on);
      if (on) m.bringToFront();
    }
    if (state.preview) state.preview.remove();
    state.preview = null;
    if (a && b) {
      const ll = [a, b].map((id) => state.markers.get(id).getLatLng());
      state.preview = L.polyline(ll, { color: "#dc2626", weight: 3, dashArray: "4 6", interactive: false }).addTo(state.map);
    }
    $("#closure-errors").replaceChildren();
  }

  // ---- closing a road -----------------------------------------------------------------
  function closureForm() {
    const form = $("#closure-form");
    form.starts_at.value = state.day + "T06:00";
    form.ends_at.value = state.day + "T18:00";
    $("#clear-pair").onclick = () => { state.pair = [null, null]; showPair(); };
    const find = $("#place-find");
    find.onchange = () => {
      const id = find.value.trim();
      if (state.places.has(id)) { pick(id); find.value = ""; }
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const errors = $("#closure-errors");
      errors.replaceChildren();
      const body = {
        from_place: state.pair[0] || "", to_place: state.pair[1] || "",
        starts_at: isoShanghai(form.starts_at.value), ends_at: isoShanghai(form.ends_at.value),
        reason: form.reason.value,
      };
      try {
        const c = await api("/closures", { method: "POST", body });
        const names = { from: placeLabel(c.from_place), to: placeLabel(c.to_place) };
        C.flash(c.flagged_plans.length ? t("cl_created", { ...names, plans: c.flagged_plans.map((p) => "#" + p).join(", ") }) : t("cl_created_none", names), c.flagged_plans.length ? "warn" : "ok");
        state.pair = [null, null];
        showPair();
        form.reason.value = "";
        await Promise.all([loadClosures(), loadPlans()]);
      } catch (e) {
        errors.append(el("p", { class: "alert error", role: "alert" }, e.message));
      }
    };
  }

  // ---- the closures -------------------------------------------------------------------
  async function loadClosures() {
    const data = await api(`/closures?geometry=true&active_on=${state.day}&sort=-id&limit=200`);
    const body = $("#closures tbody");
    body.replaceChildren();
    state.closureLayer.clearLayers();
    $("#no-closures").hidden = data.items.length > 0;
    for (const c of data.items) {
      const road = `${placeLabel(c.from_place)} — ${placeLabel(c.to_place)}`;
      if (c.geometry && c.geometry.coordinates) {
        const line = L.polyline(c.geometry.coordinates.map(([lon, lat]) => [lat, lon]), {
          color: "#dc2626", weight: 6, opacity: 0.9, className: "closure-path",
        }).addTo(state.closureLayer);
        line.bindTooltip(`#${c.id} ${road} · ${c.reason || ""}`, { sticky: true });
        line.getElement().dataset.closure = c.id;
      }
      const del = el("button", { type: "button", class: "delete" }, t("cl_delete"));
      del.onclick = async () => {
        if (!confirm(t("cl_delete_confirm", { id: c.id, road }))) return;
        try {
          await api("/closures/" + c.id, { method: "DELETE" });
          C.flash(t("cl_deleted", { id: c.id }), "ok");
          await Promise.all([loadClosures(), loadPlans()]);
        } catch (e) {
          C.flash(e.message, "error");
        }
      };
      body.append(el("tr", { dataset: { closure: c.id } },
        el("td", {}, "#" + c.id),
        el("td", {}, road, el("div", { class: "hint" }, `${c.from_place} — ${c.to_place}`)),
        el("td", { class: "nowrap" }, C.dateTime(c.starts_at), " – ", C.dateTime(c.ends_at)),
        el("td", {}, c.reason || "–"),
        el("td", {}, c.flagged_plans.length ? c.flagged_plans.map((p) => el("span", { class: "badge bad" }, "#" + p, " ")) : t("none")),
        el("td", {}, del),
      ));
    }
  }

  // ---- the plans of the day, their flags, replanning ----------------------------------
  async function loadPlans() {
    const data = await api(`/plans?plan_date=${state.day}&sort=-id&limit=100`);
    const body = $("#plans tbody");
    body.replaceChildren();
    $("#no-plans").hidden = data.items.length > 0;
    for (const p of data.items) {
      const flags = p.flags || [];
      const counties = C.planScope(p);
      const row = el("tr", { dataset: { plan: p.id, status: p.status, flagged: flags.length ? "1" : "0" } },
        el("td", {}, el("a", { href: "/console/board?plan=" + p.id }, "#" + p.id), " ", counties,
          el("div", {}, el("span", { class: "badge" + (p.status === "published" ? " ok" : "") }, t("status_" + p.status)))),
        el("td", {}, flags.length
          ? flags.map((f) => el("span", { class: "flag" }, t("cl_flag_text", { id: f.closure_id, road: `${placeLabel(f.from_place)} — ${placeLabel(f.to_place)}`, n: (f.routes || []).length }), f.routes && f.routes.length ? el("div", { class: "hint" }, f.routes.join(", ")) : null))
          : el("span", { class: "muted" }, t("cl_no_flags"))),
        el("td", {}, p.status === "published" && flags.length ? replanControl(p) : null),
      );
      body.append(row);
    }
  }

  function replanControl(p) {
    const input = el("input", {
      type: "datetime-local", class: "replan-at", "aria-label": t("cl_replan_from") + " #" + p.id,
      min: p.plan_date + "T00:00", max: p.plan_date + "T23:59",
    });
    const now = nowShanghai();
    input.value = now.startsWith(p.plan_date) ? now : p.plan_date + "T10:00";
    const button = el("button", { type: "button", class: "primary replan-go" }, t("cl_replan"));
    button.onclick = () => replan(p, input.value, button);
    return el("div", { class: "replan" }, input, button);
  }

  async function replan(p, at, button) {
    const box = $("#job");
    button.disabled = true;
    try {
      const job = await api(`/plans/${p.id}/replan`, { method: "POST", body: { at: isoShanghai(at) } });
      C.flash(t("cl_replan_started", { id: job.id }), "info");
      const done = await C.waitPlan(job.id, (x) => box.replaceChildren(C.progressBar(x)));
      box.replaceChildren(C.progressBar(done));
      if (done.status !== "succeeded") {
        box.append(el("p", { class: "alert error" }, t("plan_failed", { error: done.error || done.message })));
        return;
      }
      await showCompare(done.id);
      await loadPlans();
    } catch (e) {
      box.append(el("p", { class: "alert error", role: "alert" }, e.message));
    } finally {
      button.disabled = false;
    }
  }

  // ---- the plan's routes (to see which roads it uses) ---------------------------------
  async function drawPlanRoutes() {
    const box = $("#show-plan");
    const label = $("#show-plan-label");
    if (!state.planId) { box.parentElement.hidden = true; return; }
    label.textContent = t("cl_show_plan_routes", { id: state.planId });
    const b = await api(`/plans/${state.planId}/board`);
    for (const r of b.routes) {
      const coords = r.geometry && r.geometry.coordinates;
      if (!coords) continue;
      L.polyline(coords.map(([lon, lat]) => [lat, lon]), {
        color: "#3b82f6", weight: 2, opacity: 0.55, interactive: false, className: "plan-path",
      }).addTo(state.planLayer);
    }
    box.onchange = () => (box.checked ? state.planLayer.addTo(state.map) : state.planLayer.remove());
  }

  // ---- the comparison -----------------------------------------------------------------
  const TOTALS = ["routes", "orders_served", "unassigned", "km", "cost_fen", "driving_h"];
  function fmt(key, v) {
    if (key === "cost_fen") return C.yuan(v);
    if (key === "km" || key === "driving_h") return C.num(v, 1);
    return v === null || v === undefined ? "–" : String(v);
  }
  function delta(key, v) {
    if (!v) return el("span", { class: "muted" }, "0");
    const sign = v > 0 ? "+" : "−";
    const text = sign + fmt(key, Math.abs(v));
    return el("span", { class: v > 0 ? "delta-up" : "delta-down" }, text);
  }
  const chips = (list, cls) => list.map((p) => el("span", { class: "place-chip " + cls, title: p.place_id }, p.name_zh || p.place_id));
  const pairOf = (a, b, f) => (a === b ? f(a) : f(a) + " → " + f(b));

  async function showCompare(newId) {
    const d = await api(`/plans/${newId}/compare`);
    $("#compare").hidden = false;
    $("#compare-of").textContent = t("cl_compare_of", { new: d.new.id, old: d.old.id, at: C.dateTime(d.new.at) });
    $("#open-board").href = "/console/board?plan=" + d.new.id;
    const tb = $("#compare-totals tbody");
    tb.replaceChildren(...TOTALS.map((k) => el("tr", { dataset: { total: k } },
      el("th", {}, t("cl_t_" + k)),
      el("td", { class: "num" }, fmt(k, d.totals.old[k])),
      el("td", { class: "num" }, fmt(k, d.totals.new[k])),
      el("td", { class: "num" }, delta(k, d.totals.delta[k])))));
    $("#vehicles-changed").textContent = t("cl_vehicles_changed", { n: d.vehicles_changed });
    $("#orders-changed").textContent = t("cl_orders_changed", d.orders_changed);
    const vb = $("#compare-vehicles tbody");
    vb.replaceChildren();
    d.vehicles.forEach((v, i) => {
      const o = v.old || {}, n = v.new || {};
      vb.append(el("tr", { class: v.changed ? "changed" : "same", dataset: { vehicle: v.vehicle_id } },
        el("td", {}, el("span", { class: "swatch", style: "background:" + (v.changed ? C.colour(i) : "#cbd5e1") }), v.vehicle_name || v.vehicle_id, " ",
          el("span", { class: "badge " + v.echelon }, v.county_code ? C.countyName(v.county_code) : t("trunk")),
          el("div", { class: "hint" }, v.changed ? t("cl_changed") : t("cl_unchanged"))),
        el("td", { class: "nowrap" }, o.route_id || "–"),
        el("td", { class: "nowrap" }, n.route_id || "–"),
        el("td", { class: "num nowrap" }, pairOf(o.stops ?? "–", n.stops ?? "–", String)),
        el("td", { class: "num nowrap" }, pairOf(o.km, n.km, (x) => C.num(x, 1))),
        el("td", { class: "num nowrap" }, pairOf(o.cost_fen, n.cost_fen, C.yuan)),
        el("td", {}, chips(v.stops_added, "added")),
        el("td", {}, chips(v.stops_dropped, "dropped")),
      ));
    });
    drawCompare(d);
    const url = new URL(location.href);
    url.searchParams.set("compare", d.new.id);
    history.replaceState(null, "", url.toString());
    $("#compare").scrollIntoView({ block: "start" });
  }

  function drawCompare(d) {
    state.compareLayer.clearLayers();
    $("#show-plan").checked = false;
    state.planLayer.remove();
    const bounds = [];
    const line = (g, style) => L.polyline(g.coordinates.map(([lon, lat]) => [lat, lon]), style).addTo(state.compareLayer);
    d.vehicles.forEach((v, i) => {
      for (const g of (v.old && v.old.geometry) || []) {
        line(g, { color: "#6b7280", weight: 3, opacity: 0.8, dashArray: "6 6", interactive: false, className: "old-path" });
      }
      for (const g of (v.new && v.new.geometry) || []) {
        const l = line(g, { color: v.changed ? C.colour(i) : "#94a3b8", weight: v.changed ? 4 : 2, opacity: 0.9, className: "new-path" });
        l.bindTooltip(`${v.vehicle_name || v.vehicle_id} · ${(v.new && v.new.route_id) || ""}`, { sticky: true });
        if (v.changed) bounds.push(...l.getLatLngs());
      }
    });
    state.closureLayer.eachLayer((l) => l.bringToFront());
    if (bounds.length) state.map.fitBounds(bounds, { padding: [20, 20] });
  }

  // ---- start --------------------------------------------------------------------------
  async function main() {
    try {
      state.planId = Number(params.get("plan")) || boot.plan_id || null;
      state.day = params.get("day") || boot.plan_date || boot.today;
      if (params.get("plan")) state.day = (await api("/plans/" + state.planId)).plan_date;
      else if (boot.plan_date !== state.day) state.planId = null;
      const day = $("#day");
      day.value = state.day;
      day.onchange = () => {
        const url = new URL(location.href);
        url.searchParams.set("day", day.value);
        url.searchParams.delete("plan");
        url.searchParams.delete("compare");
        location.href = url.toString();
      };
      await drawMap();
      closureForm();
      await Promise.all([loadClosures(), loadPlans(), drawPlanRoutes()]);
      const compare = Number(params.get("compare"));
      if (compare) await showCompare(compare);
    } catch (e) {
      C.flash(e.message, "error");
    } finally {
      document.body.dataset.closuresReady = "1";
    }
  }
  main();
})();
