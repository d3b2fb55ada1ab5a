/* The monitoring centre: where each vehicle last reported, its progress and delay, the
   stops expected late, the failed stops, the proof-of-delivery photos and the closures in
   force. Everything shown comes from GET /api/v1/monitor (polled every boot.poll_ms while
   the tab is visible, updated in place); the planned routes' road geometry from the plan
   board, fetched once per plan. No rule is decided here. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const locale = boot.lang === "en" ? "en-GB" : "zh-CN";
  const clockFmt = new Intl.DateTimeFormat(locale, {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  const params = new URLSearchParams(location.search);
  const state = {
    query: queryOf(params),
    generation: 0,
    timer: null,
    busy: false,
    failing: false,
    ready: false,
    map: null,
    fitted: false,
    colours: new Map(), // sheet id -> colour index (stable while the page is open)
    rows: new Map(), // sheet id -> table row
    vehicles: new Map(), // sheet id -> {marker, key}
    planned: new Map(), // sheet id -> faint polyline
    geometry: new Map(), // sheet id -> [[lat, lon], ...] from the plan board
    boards: new Set(), // plan ids whose board geometry was fetched
    photos: new Map(), // event id -> figure
    late: null,
    closures: null,
    closureKey: "",
    data: null,
  };

  function queryOf(p) {
    if (p.get("plan_id")) return { plan_id: p.get("plan_id") };
    if (p.get("plan_date")) return { plan_date: p.get("plan_date") };
    return {};
  }

  // ---- the plan / day picker ------------------------------------------------------------
  async function loadPlans() {
    const select = $("#plan-select");
    const day = $("#day-select");
    let items = [];
    try {
      const lists = await Promise.all(
        ["published", "completed"].map((s) => api(`/plans?status=${s}&sort=-id&limit=100`)),
      );
      items = lists.flatMap((l) => l.items).sort((a, b) => b.id - a.id);
    } catch (e) {
      C.flash(e.message, "error");
    }
    const wanted = Number(state.query.plan_id) || null;
    if (wanted && !items.some((p) => p.id === wanted)) {
      try {
        items.unshift(await api("/plans/" + wanted));
      } catch (e) {
        /* the monitor answer says why */
      }
    }
    for (const p of items) select.append(el("option", { value: p.id }, C.planLabel(p)));
    select.value = wanted ? String(wanted) : "";
    day.value = state.query.plan_date || "";
    select.onchange = () => choose(select.value ? { plan_id: select.value } : {});
    day.onchange = () => choose(day.value ? { plan_date: day.value } : {});
  }

  function choose(query) {
    state.query = query;
    if (query.plan_id) $("#day-select").value = "";
    if (query.plan_date || !query.plan_id) $("#plan-select").value = "";
    const url = new URL(location.href);
    url.search = new URLSearchParams(query).toString();
    history.replaceState(null, "", url.toString());
    state.generation += 1;
    state.fitted = false;
    poll();
  }

  // ---- polling ---------------------------------------------------------------------------
  async function poll() {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    const generation = state.generation;
    try {
      const q = new URLSearchParams(state.query).toString();
      const data = await api("/monitor" + (q ? "?" + q : ""));
      if (generation === state.generation) await render(data);
      state.failing = false;
    } catch (e) {
      if (!state.failing) C.flash(t("mon_poll_error", { error: e.message }), "error");
      state.failing = true;
    } finally {
      state.busy = false;
      if (!state.ready) {
        state.ready = true;
        document.body.dataset.monitorReady = "1";
      }
      if (state.again) {
        state.again = false;
        poll();
      } else schedule();
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = document.hidden ? null : setTimeout(poll, boot.poll_ms || 2000);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(state.timer);
      state.timer = null;
      $("#updated").textContent = t("mon_paused");
    } else poll();
  });

  // ---- one answer --------------------------------------------------------------------------
  async function render(d) {
    state.data = d;
    for (const s of d.sheets) if (!state.colours.has(s.sheet_id)) state.colours.set(s.sheet_id, state.colours.size);
    $("#updated").textContent = t("mon_updated", { time: clockFmt.format(new Date(d.as_of)) });
    $("#showing").textContent = d.plans.length
      ? t("mon_showing", { plans: d.plans.map(C.planLabel).join("；") })
      : t("mon_showing_none");
    kpis(d.totals);
    vehicleTable(d.sheets);
    lateTable(d.late);
    failedTable(d.failed);
    offPointTable(d.off_point || []);
    photos(d.photos);
    closureList(d.closures);
    await drawMap(d);
  }

  function kpis(x) {
    const set = (key, value, cls) => {
      const box = document.querySelector(`[data-kpi="${key}"]`);
      box.querySelector(".v").textContent = value;
      box.className = "kpi " + (cls || "");
    };
    set("under_way", x.under_way);
    set("stops", `${x.stops_done}/${x.stops_total}`);
    set("late", x.late, x.late ? "bad" : "good");
    set("failed", x.failed, x.failed ? "bad" : "good");
    set("closures", x.closures, x.closures ? "bad" : "");
    $("#sheets-note").textContent = t("kpi_sheets_note", { n: x.sheets, done: x.completed, idle: x.not_started });
  }

  const colourOf = (id) => C.colour(state.colours.get(id) || 0);
  const place = (p) => C.placeName(p);
  const minutes = (s) => (s === null || s === undefined ? "–" : (s > 0 ? "+" : s < 0 ? "−" : "") + Math.abs(Math.round(s / 60)));

  // ---- the vehicle table -------------------------------------------------------------------
  function vehicleRow(s) {
    const row = el("tr", { dataset: { sheet: s.sheet_id, routeId: s.route_id } },
      el("td", { class: "route" }), el("td", { class: "vehicle-cell" }), el("td", { class: "progress-cell" }),
      el("td", { class: "report" }), el("td", { class: "num delay" }), el("td", { class: "state" }));
    row.onclick = () => focus(s.sheet_id);
    return row;
  }

  function vehicleTable(sheets) {
    const body = $("#vehicles tbody");
    const seen = new Set();
    for (const s of sheets) {
      seen.add(s.sheet_id);
      let row = state.rows.get(s.sheet_id);
      if (!row) state.rows.set(s.sheet_id, (row = vehicleRow(s)));
      const [route, who, progress, report, delay, status] = row.children;
      route.replaceChildren(
        el("span", { class: "swatch", style: "background:" + colourOf(s.sheet_id) }), s.route_id, " ",
        el("span", { class: "badge " + s.echelon }, s.county_code ? C.countyName(s.county_code) : t("trunk")));
      who.replaceChildren(s.vehicle.name || s.vehicle.id,
        el("div", { class: "hint" }, s.courier ? s.courier.username : t("mon_no_courier")));
      const pct = s.stops_total ? Math.round((100 * s.stops_done) / s.stops_total) : 0;
      progress.replaceChildren(
        el("div", { class: "mbar", title: pct + "%" }, el("div", { class: "fill" + (s.stops_failed ? " with-failed" : ""), style: "width:" + pct + "%" })),
        el("span", { class: "progress-text" }, `${s.stops_done}/${s.stops_total}`));
      const r = s.last_report;
      report.replaceChildren(r
        ? el("span", {}, el("b", {}, C.time(r.time)), " ", t("event_" + r.type), " · ", t("mon_stop_tip", { seq: r.seq, name: place(r.place) }))
        : el("span", { class: "hint" }, t("mon_no_report")));
      delay.textContent = minutes(s.delay_s);
      delay.classList.toggle("over", s.late_stops > 0);
      delay.title = s.late_stops ? t("mon_late") + ": " + s.late_stops : "";
      status.replaceChildren(el("span", { class: "badge st-" + s.status }, t("status_" + s.status)));
      if (s.late_stops) status.append(" ", el("span", { class: "badge bad", title: t("mon_late") }, t("mon_late_short", { n: s.late_stops })));
      body.append(row); // in the answer's order (moves an existing row)
    }
    for (const [id, row] of state.rows) {
      if (!seen.has(id)) {
        row.remove();
        state.rows.delete(id);
      }
    }
    $("#n-sheets").textContent = sheets.length;
  }

  // ---- the panels -----------------------------------------------------------------------------
  function empty(name, list) {
    document.querySelector(`[data-empty="${name}"]`).hidden = list.length > 0;
    $("#n-" + name).textContent = list.length;
  }

  function ruleText(x) {
    if (x.rule === "window_end") return t("rule_window_end", { time: C.time(x.window_end) });
    return t("rule_planned_plus_30min", { n: state.data.late_rule.late_after_min });
  }

  function lateTable(items) {
    $("#late tbody").replaceChildren(...items.map((x) =>
      el("tr", { dataset: { sheet: x.sheet_id, seq: x.seq } },
        el("td", {}, el("span", { class: "swatch", style: "background:" + colourOf(x.sheet_id) }), x.route_id),
        el("td", { class: "num" }, x.seq), el("td", {}, place(x.place)),
        el("td", {}, C.time(x.planned)), el("td", {}, C.time(x.eta)),
        el("td", { class: "num over" }, x.late_min),
        el("td", { class: "hint" }, ruleText(x), x.passed ? el("div", { class: "passed" }, t("mon_passed")) : null))));
    empty("late", items);
  }

  function failedTable(items) {
    $("#failed tbody").replaceChildren(...items.map((x) =>
      el("tr", { dataset: { sheet: x.sheet_id, seq: x.seq } },
        el("td", {}, el("span", { class: "swatch", style: "background:" + colourOf(x.sheet_id) }), x.route_id),
        el("td", { class: "num" }, x.seq), el("td", {}, place(x.place)),
        el("td", { class: "reason" }, x.reason || "–"), el("td", {}, C.time(x.time)),
        el("td", {}, x.courier ? x.courier.username : "–"))));
    empty("failed", items);
  }

  function offPointTable(items) {
    $("#off-point tbody").replaceChildren(...items.map((x) =>
      el("tr", { dataset: { sheet: x.sheet_id, seq: x.seq } },
        el("td", {}, el("span", { class: "swatch", style: "background:" + colourOf(x.sheet_id) }), x.route_id),
        el("td", { class: "num" }, x.seq), el("td", {}, place(x.place)),
        el("td", { class: "num" }, x.distance_m == null ? "–" : C.num(x.distance_m, 0)),
        el("td", { class: "num" }, x.accuracy_m == null ? "–" : C.num(x.accuracy_m, 0)),
        el("td", {}, C.time(x.time)),
        el("td", {}, x.courier ? x.courier.username : "–"))));
    empty("off-point", items);
  }

  function photos(items) {
    const box = $("#photos");
    const seen = new Set();
    for (const p of items) {
      seen.add(p.event_id);
      let fig = state.photos.get(p.event_id);
      if (!fig) {
        const alt = t("mon_photo_alt", { route: p.route_id, seq: p.seq });
        fig = el("figure", { class: "photo", dataset: { sheet: p.sheet_id, seq: p.seq } },
          el("a", { href: p.url, target: "_blank", rel: "noopener" }, el("img", { src: p.url, alt, loading: "lazy" })),
          el("figcaption", {}, `${p.route_id} · ${t("mon_seq")} ${p.seq} · ${place(p.place)} · ${C.time(p.time)}`));
        state.photos.set(p.event_id, fig);
      }
      box.append(fig);
    }
    for (const [id, fig] of state.photos) {
      if (!seen.has(id)) {
        fig.remove();
        state.photos.delete(id);
      }
    }
    empty("photos", items);
  }

  function closureList(items) {
    $("#closures").replaceChildren(...items.map((c) =>
      el("li", { dataset: { closure: c.id } },
        el("b", {}, `${place(c.from_place)} — ${place(c.to_place)}`), " ",
        el("span", { class: "badge " + (c.in_force_now ? "bad" : "up") }, t(c.in_force_now ? "mon_closure_now" : "mon_closure_day")),
        el("div", { class: "hint" }, t("mon_closure_span", { from: C.dateTime(c.starts_at), to: C.dateTime(c.ends_at) }), c.reason ? " · " + c.reason : ""))));
    empty("closures", items);
  }

  // ---- the map ------------------------------------------------------------------------------
  async function boardGeometry(plans) {
    for (const p of plans) {
      if (state.boards.has(p.id)) continue;
      state.boards.add(p.id);
      try {
        const b = await api(`/plans/${p.id}/board`);
        for (const r of b.routes) {
          const coords = r.geometry && r.geometry.coordinates;
          if (coords) state.geometry.set(r.sheet_id, coords.map(([lon, lat]) => [lat, lon]));
        }
      } catch (e) {
        /* the stops' own positions draw the route instead */
      }
    }
  }

  function stopLine(s) {
    return s.stops.filter((x) => x.place.lat !== null && x.place.lat !== undefined).map((x) => [x.place.lat, x.place.lon]);
  }

  async function drawMap(d) {
    if (!state.map) {
      state.map = await C.baseMap($("#map"), { places: false });
      state.map.createPane("closed").style.zIndex = 620;
      state.map.createPane("late").style.zIndex = 630;
      state.map.createPane("vehicles").style.zIndex = 650;
      state.late = L.layerGroup([], { pane: "late" }).addTo(state.map);
      state.closures = L.layerGroup([], { pane: "closed" }).addTo(state.map);
    }
    await boardGeometry(d.plans);
    const seen = new Set();
    const bounds = [];
    const local = d.sheets.some((s) => s.county_code);
    for (const s of d.sheets) {
      seen.add(s.sheet_id);
      const colour = colourOf(s.sheet_id);
      if (!state.planned.has(s.sheet_id)) {
        const line = L.polyline(state.geometry.get(s.sheet_id) || stopLine(s), {
          color: colour, weight: 2.5, opacity: 0.35, dashArray: s.echelon === "trunk" ? "8 6" : null, className: "planned",
        }).addTo(state.map);
        line.bindTooltip(`${s.route_id} · ${s.vehicle.name || s.vehicle.id}`, { sticky: true });
        line.on("click", () => focus(s.sheet_id));
        state.planned.set(s.sheet_id, line);
      }
      if (!local || s.county_code) bounds.push(...state.planned.get(s.sheet_id).getLatLngs());
      vehicleMarker(s, colour);
    }
    for (const [id, line] of state.planned) if (!seen.has(id)) (line.remove(), state.planned.delete(id));
    for (const [id, v] of state.vehicles) if (!seen.has(id)) (v.marker.remove(), state.vehicles.delete(id));
    lateMarkers(d.late);
    closureLines(d.closures);
    if (!state.fitted && bounds.length) {
      state.fitted = true;
      // the base map's own fit may still be zooming, and Leaflet ignores a new view asked
      // for during a zoom animation: wait for it to end
      if (state.map._animatingZoom) await new Promise((r) => state.map.once("zoomend", r));
      state.map.fitBounds(bounds, { padding: [16, 16] });
    }
  }

  function vehicleMarker(s, colour) {
    const r = s.last_report;
    const have = state.vehicles.get(s.sheet_id);
    if (!r || r.lat === null || r.lon === null) {
      if (have) (have.marker.remove(), state.vehicles.delete(s.sheet_id));
      return;
    }
    const key = `${s.route_id}|${s.status}|${colour}|${s.late_stops > 0}`;
    const tip = t("mon_vehicle_tip", {
      route: s.route_id, vehicle: s.vehicle.name || s.vehicle.id,
      report: `${C.time(r.time)} ${t("event_" + r.type)} ${place(r.place)} · ${s.stops_done}/${s.stops_total}`,
    });
    const icon = () => L.divIcon({
      className: "",
      html: `<div class="veh${s.late_stops ? " late" : ""}${s.status === "completed" ? " done" : ""}" style="background:${colour}" data-sheet="${s.sheet_id}">${s.route_id}</div>`,
      iconSize: null, iconAnchor: [0, 0],
    });
    if (!have) {
      const marker = L.marker([r.lat, r.lon], { icon: icon(), pane: "vehicles", riseOnHover: true, keyboard: false });
      marker.bindTooltip(tip, { direction: "top" });
      marker.on("click", () => focus(s.sheet_id));
      marker.addTo(state.map);
      state.vehicles.set(s.sheet_id, { marker, key });
      return;
    }
    have.marker.setLatLng([r.lat, r.lon]);
    have.marker.setTooltipContent(tip);
    if (have.key !== key) {
      have.marker.setIcon(icon());
      have.key = key;
    }
  }

  function lateMarkers(items) {
    state.late.clearLayers();
    for (const x of items) {
      if (x.place.lat === null || x.place.lat === undefined) continue;
      L.circleMarker([x.place.lat, x.place.lon], { pane: "late", radius: 6, color: "#b91c1c", weight: 2, fillOpacity: 0.15 })
        .bindTooltip(`${x.route_id} · ${t("mon_stop_tip", { seq: x.seq, name: place(x.place) })} · ${t("mon_eta")} ${C.time(x.eta)} (+${x.late_min})`)
        .addTo(state.late);
    }
  }

  function closureLines(items) {
    const key = items.map((c) => c.id + ":" + c.in_force_now).join(",");
    if (key === state.closureKey) return;
    state.closureKey = key;
    state.closures.clearLayers();
    for (const c of items) {
      const ends = [c.from_place, c.to_place].filter((p) => p.lat !== undefined).map((p) => [p.lat, p.lon]);
      const line = c.line && c.line.length > 1 ? c.line.map(([lon, lat]) => [lat, lon]) : ends;
      if (line.length < 2) continue;
      const tip = `${place(c.from_place)} — ${place(c.to_place)} · ${c.reason || ""}`;
      L.polyline(line, { pane: "closed", color: "#dc2626", weight: 6, opacity: c.in_force_now ? 0.9 : 0.5, dashArray: c.in_force_now ? null : "4 6", className: "closure" })
        .bindTooltip(tip, { sticky: true }).addTo(state.closures);
      for (const p of ends) L.circleMarker(p, { pane: "closed", radius: 5, color: "#7f1d1d", fillColor: "#dc2626", fillOpacity: 1, weight: 1 }).addTo(state.closures);
    }
  }

  function focus(id) {
    document.querySelectorAll("#vehicles tr.selected").forEach((n) => n.classList.remove("selected"));
    const row = state.rows.get(id);
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
    }
    const line = state.planned.get(id);
    if (line && state.map) state.map.fitBounds(line.getBounds(), { padding: [30, 30], maxZoom: 11 });
    const v = state.vehicles.get(id);
    if (v) v.marker.openTooltip();
  }

  loadPlans().finally(poll);
})();
