/* The plan board: one plan's routes on the map (one colour per vehicle, numbered stops,
   trunk dashed), the vehicle table, a timeline per vehicle, the unassigned orders with
   their reasons, the cost shares; start a plan, publish it, reassign a sheet.
   Everything shown comes from GET /api/v1/plans/{id}/board. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const state = { board: null, map: null, layers: new Map(), selected: null, couriers: [] };
  const params = new URLSearchParams(location.search);
  let planId = Number(params.get("plan")) || boot.plan_id || null;

  // ---- plans: the select, starting a new one ------------------------------------------
  async function loadPlans() {
    const select = $("#plan-select");
    const { items, planId: shown } = await C.planSelect(select, planId);
    if (!planId) planId = shown;  // a plan asked for by its id is shown even if not listed
    select.onchange = () => go(Number(select.value));
    return items;
  }

  function go(id) {
    const url = new URL(location.href);
    url.searchParams.set("plan", id);
    location.href = url.toString();
  }

  function newPlanForm() {
    const form = $("#new-plan");
    $("#new-plan-toggle").onclick = () => {
      form.hidden = !form.hidden;
      form.plan_date.value = form.plan_date.value || (state.board && state.board.plan_date) || boot.today;
    };
    $("#new-plan-cancel").onclick = () => (form.hidden = true);
    const boxes = $("#county-boxes");
    if (boxes) {
      for (const c of boot.counties.filter((c) => c.served)) {
        boxes.append(el("label", { class: "row" }, el("input", { type: "checkbox", name: "county", value: c.code, checked: true }), C.countyName(c.code)));
      }
    }
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const body = { plan_date: form.plan_date.value };
      if (form.time_limit.value) body.time_limit = Number(form.time_limit.value);
      if (boxes) body.counties = [...boxes.querySelectorAll("input:checked")].map((i) => i.value);
      try {
        const plan = await api("/plans", { method: "POST", body });
        form.hidden = true;
        C.flash(t("board_started", { id: plan.id }), "info");
        await follow(plan.id, true);
      } catch (e) {
        C.flash(e.message, "error");
      }
    };
  }

  /** Show a running job's progress; open its board when it ends. */
  async function follow(id, open) {
    const box = $("#job");
    const plan = await C.waitPlan(id, (p) => box.replaceChildren(C.progressBar(p), el("p", { class: "hint" }, t("board_computing"))));
    if (plan.status === "failed") {
      box.replaceChildren(el("p", { class: "alert error" }, t("plan_failed", { error: plan.error || plan.message })));
      return;
    }
    box.replaceChildren();
    if (open) go(plan.id);
  }

  // ---- the board ----------------------------------------------------------------------
  async function loadBoard() {
    const plan = await api("/plans/" + planId);
    if (plan.status === "queued" || plan.status === "running") {
      await follow(planId, false);
    }
    state.board = await api("/plans/" + planId + "/board");
    $("#board").hidden = false;
    const b = state.board;
    $("#publish").hidden = !b.may.publish;
    if (boot.user.role === "dispatcher" && (b.counties || []).length > 1) {
      C.flash(t("board_dispatcher_scope"), "info");
    }
    kpis(b);
    countyFilter(b);
    await couriers(b);
    await drawMap(b);
    vehicleTable(b);
    timeline(b);
    unassigned(b);
    costs(b);
    document.body.dataset.boardReady = "1";
  }

  function kpis(b) {
    const s = b.summary || {};
    const shown = b.totals || {};
    const box = $("#kpis");
    const kpi = (key, value, cls) => el("div", { class: "kpi " + (cls || ""), dataset: { kpi: key } }, el("div", { class: "v" }, value), el("div", { class: "k" }, t("kpi_" + key)));
    box.replaceChildren(
      kpi("orders", s.orders ?? "–"),
      kpi("assigned", s.assigned ?? "–"),
      kpi("unassigned", shown.unassigned, shown.unassigned ? "" : "good"),
      kpi("routes", shown.routes),
      kpi("km", C.num(shown.distance_km, 0)),
      kpi("cost", C.yuan(shown.cost_fen)),
      kpi("separate", C.yuan(s.separate_cost_fen)),
      kpi("savings", s.savings_pct !== undefined && s.savings_pct !== null ? C.num(s.savings_pct, 1) + "%" : "–", "good"),
    );
    const cover = s.village_coverage;
    if (cover) {
      const box = kpi("villages", `${C.num(cover.pct, 1)}%`, cover.meets_target ? "good" : "");
      box.title = t("kpi_villages_tip", { located: cover.located, all: cover.villages, target: cover.target_pct });
      $("#kpis").append(box);
    }
  }

  function countyFilter(b) {
    const select = $("#county-filter");
    const codes = [...new Set(b.routes.map((r) => r.county_code || ""))].sort();
    for (const code of codes) select.append(el("option", { value: code || "trunk" }, code ? C.countyName(code) : t("trunk")));
    select.onchange = () => {
      const v = select.value;
      for (const r of b.routes) {
        const show = !v || (v === "trunk" ? !r.county_code : r.county_code === v);
        const layer = state.layers.get(r.sheet_id);
        if (show) layer.group.addTo(state.map);
        else layer.group.remove();
        document.querySelectorAll(`[data-route="${r.sheet_id}"]`).forEach((n) => (n.hidden = !show));
      }
    };
  }

  async function couriers(b) {
    if (!["succeeded", "published"].includes(b.status)) return;
    try {
      state.couriers = await api("/couriers");
    } catch (e) {
      state.couriers = [];
    }
  }

  // ---- the map ------------------------------------------------------------------------
  async function drawMap(b) {
    state.map = await C.baseMap($("#map"));
    const bounds = [];
    for (const r of b.routes) {
      const colour = C.colour(r.colour);
      const trunk = r.echelon === "trunk";
      const coords = r.geometry && r.geometry.coordinates ? r.geometry.coordinates : r.timeline.map((s) => [s.lon, s.lat]);
      const latlngs = coords.filter((c) => c[0] !== null).map(([lon, lat]) => [lat, lon]);
      const group = L.featureGroup();
      const line = L.polyline(latlngs, {
        color: colour, weight: trunk ? 4 : 3, opacity: 0.9, dashArray: trunk ? "10 6" : null,
        className: "route-path " + (trunk ? "trunk" : "county"),
      }).addTo(group);
      line.bindTooltip(`${r.route_id} · ${r.vehicle.name || r.vehicle.id}`, { sticky: true });
      const markers = [];
      for (const s of r.timeline) {
        if (s.lat === null || s.lon === null) continue;
        const first = s.seq === r.timeline[0].seq;
        if (first && r.timeline.length > 1) continue; // the depot: drawn by the base map
        const icon = L.divIcon({ className: "", html: `<div class="stop-num" style="border-color:${colour}">${s.seq}</div>`, iconSize: [18, 18], iconAnchor: [9, 9] });
        const m = L.marker([s.lat, s.lon], { icon, keyboard: false, riseOnHover: true }).addTo(group);
        m.bindTooltip(t("stop_tip", { seq: s.seq, name: s.name_zh, arr: C.time(s.arrival), dep: C.time(s.departure) }));
        markers.push(m);
      }
      group.on("click", () => select(r.sheet_id));
      group.addTo(state.map);
      line.getElement().dataset.route = r.sheet_id;
      line.getElement().dataset.colour = colour;
      state.layers.set(r.sheet_id, { group, line, markers, trunk });
      bounds.push(...latlngs);
    }
    if (bounds.length) state.map.fitBounds(bounds, { padding: [20, 20] });
  }

  function select(id) {
    state.selected = state.selected === id ? null : id;
    for (const [sid, layer] of state.layers) {
      const on = state.selected === null || sid === state.selected;
      layer.line.setStyle({ opacity: on ? 0.9 : 0.15, weight: sid === state.selected ? (layer.trunk ? 7 : 6) : layer.trunk ? 4 : 3 });
      layer.line.getElement().classList.toggle("selected", sid === state.selected);
      for (const m of layer.markers) m.setOpacity(on ? 1 : 0.2);
      if (sid === state.selected) layer.group.eachLayer((l) => l.bringToFront && l.bringToFront());
    }
    document.querySelectorAll("[data-route]").forEach((n) => n.classList && n.classList.toggle("selected", Number(n.dataset.route) === state.selected));
    if (state.selected !== null) {
      const layer = state.layers.get(state.selected);
      state.map.fitBounds(layer.line.getBounds(), { padding: [30, 30], maxZoom: 11, animate: false });
      const lane = document.querySelector(`.lane[data-route="${state.selected}"]`);
      if (lane) lane.scrollIntoView({ block: "nearest" });
    }
  }

  // ---- the vehicle table --------------------------------------------------------------
  function courierCell(r, b) {
    if (!state.couriers.length || !(b.may.publish || r.assignable)) {
      const who = state.couriers.find((c) => c.id === r.courier_id);
      return who ? who.username : r.courier_id ? "#" + r.courier_id : "–";
    }
    const options = state.couriers.filter((c) => (r.county_code ? c.county_code === r.county_code : !c.county_code));
    const sel = el("select", { class: "courier", dataset: { routeId: r.route_id, sheet: r.sheet_id }, "aria-label": t("board_courier") + " " + r.route_id },
      el("option", { value: "" }, t("board_no_courier")),
      options.map((c) => el("option", { value: c.id, selected: c.id === r.courier_id }, c.username)));
    sel.onclick = (ev) => ev.stopPropagation();
    if (!r.assignable) return sel;
    const button = el("button", { type: "button", class: "reassign" }, t("board_reassign"));
    button.onclick = async (ev) => {
      ev.stopPropagation();
      try {
        const body = { courier_id: sel.value ? Number(sel.value) : null };
        await api(`/route-sheets/${r.sheet_id}/courier`, { method: "PUT", body });
        C.flash(t("board_reassigned", { route: r.route_id, who: sel.value ? sel.selectedOptions[0].textContent : t("board_no_courier") }), "ok");
      } catch (e) {
        C.flash(e.message, "error");
      }
    };
    return el("div", { class: "courier-cell" }, sel, button);
  }

  function vehicleTable(b) {
    const body = $("#vehicles tbody");
    body.replaceChildren();
    for (const r of b.routes) {
      const over = r.driving_h > b.driving_limit_h;
      const row = el("tr", { dataset: { route: r.sheet_id, routeId: r.route_id } },
        el("td", { class: "nowrap" }, el("span", { class: "swatch", style: "background:" + C.colour(r.colour) }), r.route_id,
          el("div", { class: "hint" }, el("span", { class: "badge " + r.echelon }, t("echelon_" + r.echelon)), r.county_code ? " " + C.countyName(r.county_code) : "")),
        el("td", { class: "vehicle", title: (r.vehicle.name || r.vehicle.id) + " · " + (r.vehicle.owner_name_zh || r.vehicle.owner || "") },
          el("div", { class: "ellipsis" }, r.vehicle.name || r.vehicle.id), el("div", { class: "hint ellipsis" }, r.vehicle.owner_name_zh || r.vehicle.owner || "")),
        el("td", { class: "num" }, r.stops),
        el("td", { class: "num" }, C.num(r.distance_km, 1)),
        el("td", { class: "num" + (over ? " over" : "") }, C.num(r.driving_h, 1) + " / " + b.driving_limit_h),
        el("td", { class: "num" }, r.load_pct === null ? "–" : C.num(r.load_pct, 0) + "%"),
        el("td", { class: "num" }, C.yuan(r.cost_fen)),
        el("td", { class: "num", title: r.parties.map((p) => `${p.name_zh || p.party} ${C.yuan(p.fen)}`).join("\n") }, el("span", { class: "badge" }, r.parties.length)),
        el("td", {}, courierCell(r, b)),
      );
      row.onclick = () => select(r.sheet_id);
      body.append(row);
    }
    $("#n-routes").textContent = b.routes.length;
    $("#publish").onclick = () => publish(b);
  }

  async function publish(b) {
    const assignments = {};
    document.querySelectorAll("select.courier").forEach((s) => {
      if (s.value) assignments[s.dataset.routeId] = Number(s.value);
    });
    try {
      await api(`/plans/${b.plan_id}/publish`, { method: "POST", body: { assignments } });
      C.flash(t("board_published", { n: Object.keys(assignments).length }), "ok");
      setTimeout(() => go(b.plan_id), 600);
    } catch (e) {
      C.flash(e.message, "error");
    }
  }

  // ---- the timeline -------------------------------------------------------------------
  function timeline(b) {
    const box = $("#timeline");
    box.replaceChildren();
    const times = b.routes.flatMap((r) => [r.start && r.start.time, r.end && r.end.time]).filter(Boolean).map((x) => Date.parse(x));
    if (!times.length) return;
    const hour = 3600e3;
    const from = Math.floor(Math.min(...times) / hour) * hour;
    const to = Math.ceil(Math.max(...times) / hour) * hour;
    const pos = (iso) => (100 * (Date.parse(iso) - from)) / (to - from) + "%";
    const hours = el("div", { class: "hours" });
    const step = (to - from) / hour > 14 ? 2 : 1;
    for (let h = from; h <= to; h += step * hour) hours.append(el("span", { style: "left:" + pos(new Date(h).toISOString()) }, C.time(new Date(h).toISOString())));
    box.append(hours);
    for (const r of b.routes) {
      const track = el("div", { class: "track" });
      if (r.start && r.end) {
        track.append(el("div", { class: "span", style: `left:${pos(r.start.time)};width:calc(${pos(r.end.time)} - ${pos(r.start.time)});background:${C.colour(r.colour)}`, title: `${C.time(r.start.time)}–${C.time(r.end.time)}` }));
      }
      for (const s of r.timeline) {
        if (!s.arrival) continue;
        const tip = t("stop_tip", { seq: s.seq, name: s.name_zh, arr: C.time(s.arrival), dep: C.time(s.departure) });
        track.append(el("div", { class: "tick", style: "left:" + pos(s.arrival), title: tip }));
        const reported = s.actual_arrival || s.actual_departure;
        if (reported) {
          const when = t("actual_tip", { seq: s.seq, name: s.name_zh, arr: C.time(s.actual_arrival), dep: C.time(s.actual_departure), reason: s.reason || "" });
          track.append(el("div", { class: "actual" + (s.failed ? " failed" : ""), style: "left:" + pos(reported), title: when }));
        }
      }
      const lane = el("div", { class: "lane", dataset: { route: r.sheet_id } }, el("div", { class: "name", title: r.vehicle.name || "" }, el("span", { class: "swatch", style: "background:" + C.colour(r.colour) }), r.route_id), track);
      lane.onclick = () => select(r.sheet_id);
      box.append(lane);
    }
  }

  // ---- unassigned and costs -----------------------------------------------------------
  function unassigned(b) {
    const body = $("#unassigned tbody");
    const reasons = [...new Set(b.unassigned.map((u) => u.reason))].sort();
    const filter = $("#reason-filter");
    for (const r of reasons) filter.append(el("option", { value: r }, t("reason_" + r)));
    const render = () => {
      body.replaceChildren();
      for (const u of b.unassigned) {
        if (filter.value && u.reason !== filter.value) continue;
        body.append(el("tr", { class: "unassigned-row" },
          el("td", {}, u.order_id, el("div", { class: "hint" }, t("direction_" + (u.direction || "down")))),
          el("td", {}, u.party || "–"),
          el("td", {}, boot.lang === "en" ? u.place_pinyin || u.place_id || "–" : u.place_zh || u.place_id || "–", u.county_code ? el("div", { class: "hint" }, C.countyName(u.county_code)) : null),
          el("td", {}, el("span", { class: "badge bad" }, t("reason_" + u.reason))),
          el("td", { class: "hint" }, u.detail || ""),
        ));
      }
    };
    filter.onchange = render;
    render();
    $("#n-unassigned").textContent = b.unassigned.length;
    $("#download-unassigned").href = `/api/v1/plans/${b.plan_id}/unassigned.csv`;
  }

  function costs(b) {
    const s = b.summary || {};
    $("#costs").replaceChildren(el("p", {}, t("costs_shared", { shared: C.yuan(s.cost_fen), separate: C.yuan(s.separate_cost_fen), pct: C.num(s.savings_pct, 1) })));
    const body = $("#shares tbody");
    body.replaceChildren();
    for (const p of s.parties || []) {
      body.append(el("tr", {},
        el("td", {}, p.name_zh || p.party),
        el("td", { class: "num" }, C.yuan(p.separate_cost_fen)),
        el("td", { class: "num" }, C.yuan(p.shapley_fen)),
        el("td", { class: "num" }, C.yuan(p.proportional_fen)),
        el("td", { class: "num" }, p.saving_pct === undefined ? "–" : C.num(p.saving_pct, 1) + "%"),
      ));
    }
    $("#comparison-method").textContent = (s.comparison && s.comparison.method) || "";
  }

  // ---- tabs ---------------------------------------------------------------------------
  document.querySelectorAll("[role=tab]").forEach((tab) => {
    tab.onclick = () => {
      document.querySelectorAll("[role=tab]").forEach((x) => x.setAttribute("aria-selected", String(x === tab)));
      document.querySelectorAll("[data-panel]").forEach((p) => (p.hidden = p.dataset.panel !== tab.dataset.tab));
    };
  });

  async function main() {
    newPlanForm();
    try {
      await loadPlans();
      if (!planId) {
        $("#no-plan").hidden = false;
        document.body.dataset.boardReady = "1";
        return;
      }
      await loadBoard();
    } catch (e) {
      C.flash(e.message, "error");
    }
  }
  main();
})();
