/* The places page: a county's unlocated townships and villages, busiest first (open
   orders of a day, from GET /api/v1/places); pick one, click its position on the map,
   drag to adjust, confirm (PATCH /api/v1/places/{id}); recent corrections with who and
   when (GET /api/v1/places/corrections). The API decides who may place what. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const params = new URLSearchParams(location.search);
  const dispatcher = boot.user.role === "dispatcher";
  const state = { map: null, county: null, places: [], selected: null, pin: null, located: null, placed: null, where: null };

  // ---- filters ------------------------------------------------------------------------
  function filters() {
    const select = $("#county");
    const served = boot.counties.filter((c) => c.served);
    const shown = dispatcher ? served.filter((c) => c.code === boot.user.county_code) : served;
    for (const c of shown) select.append(el("option", { value: c.code }, C.countyName(c.code)));
    const asked = params.get("county");
    if (asked && shown.some((c) => c.code === asked)) select.value = asked;
    select.disabled = dispatcher;
    $("#day").value = params.get("day") || boot.plan_date || boot.today;
    if (params.get("kind")) $("#kind").value = params.get("kind");
    state.county = select.value;
    let typing = null;
    $("#q").oninput = () => {
      clearTimeout(typing);
      typing = setTimeout(loadList, 250);
    };
    $("#kind").onchange = loadList;
    $("#day").onchange = loadList;
    select.onchange = async () => {
      state.county = select.value;
      unselect();
      await Promise.all([loadList(), drawCounty(), loadRecent()]);
    };
    $("#filters").onsubmit = (ev) => ev.preventDefault();
  }

  function listQuery() {
    const q = new URLSearchParams({ located: "false", county: state.county, sort: "-open_orders", limit: "500" });
    if ($("#day").value) q.set("orders_on", $("#day").value);
    else q.set("sort", "id");
    if ($("#kind").value) q.set("kind", $("#kind").value);
    if ($("#q").value.trim()) q.set("q", $("#q").value.trim());
    return q;
  }

  // ---- the unlocated list -------------------------------------------------------------
  async function loadList() {
    const body = $("#unlocated tbody");
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api("/places?" + listQuery());
      state.places = data.items.filter((p) => p.kind === "township" || p.kind === "village");
      renderList(data.total);
    } catch (e) {
      C.flash(e.message, "error");
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  function renderList(total) {
    const body = $("#unlocated tbody");
    body.replaceChildren();
    for (const p of state.places) {
      const orders = p.open_orders === null || p.open_orders === undefined ? "–" : p.open_orders;
      const row = el("tr", { dataset: { place: p.id }, tabindex: "0", "aria-selected": String(state.selected && state.selected.id === p.id) },
        el("td", {}, C.placeName(p), el("div", { class: "hint" }, p.id)),
        el("td", {}, p.kind === "township" ? "–" : boot.lang === "en" ? p.township_pinyin || "–" : p.township_zh || "–"),
        el("td", {}, el("span", { class: "badge" + (p.kind === "township" ? " county" : "") }, t("kind_" + p.kind))),
        el("td", { class: "num" }, orders ? el("strong", {}, orders) : orders),
      );
      row.onclick = () => choose(p);
      row.onkeydown = (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          choose(p);
        }
      };
      body.append(row);
    }
    $("#none-left").hidden = state.places.length > 0;
    $("#unlocated-count").textContent = t("places_unlocated_count", { n: total });
  }

  function choose(p) {
    state.selected = p;
    document.querySelectorAll("#unlocated tbody tr").forEach((r) => r.setAttribute("aria-selected", String(r.dataset.place === p.id)));
    $("#pick-hint").hidden = true;
    $("#confirm").hidden = false;
    $("#chosen-name").textContent = C.placeName(p) + (p.township_zh && p.kind !== "township" ? " · " + (boot.lang === "en" ? p.township_pinyin : p.township_zh) : "");
    $("#place-error").replaceChildren();
    const parent = state.where && state.where.get(p.township_code);
    if (parent && parent.id !== p.id && !state.pin) state.map.setView([parent.lat, parent.lon], Math.max(state.map.getZoom(), 11));
    if (state.pin) {
      showPoint(state.pin.getLatLng());
    } else {
      $("#chosen-where").textContent = t("places_click_map", { name: C.placeName(p) });
      $("#save").disabled = true;
    }
  }

  function unselect() {
    state.selected = null;
    if (state.pin) state.pin.remove();
    state.pin = null;
    $("#confirm").hidden = true;
    $("#pick-hint").hidden = false;
    $("#place-error").replaceChildren();
    document.querySelectorAll("#unlocated tbody tr").forEach((r) => r.setAttribute("aria-selected", "false"));
  }

  // ---- the map ------------------------------------------------------------------------
  const pinIcon = L.divIcon({ className: "", html: '<div class="place-pin"></div>', iconSize: [22, 22], iconAnchor: [11, 22] });

  function showPoint(latlng) {
    $("#chosen-where").textContent = t("places_at", { lon: latlng.lng.toFixed(5), lat: latlng.lat.toFixed(5) });
    $("#save").disabled = false;
  }

  function drop(ev) {
    if (!state.selected) {
      $("#pick-hint").classList.add("alert", "warn");
      return;
    }
    if (!state.pin) {
      state.pin = L.marker(ev.latlng, { icon: pinIcon, draggable: true, autoPan: true, keyboard: false }).addTo(state.map);
      state.pin.on("drag", () => showPoint(state.pin.getLatLng()));
    } else {
      state.pin.setLatLng(ev.latlng);
    }
    showPoint(ev.latlng);
  }

  /** The base map's opening zoom may still be animating: let it end first (else it ends
      after our fit and undoes it). */
  async function settled(map) {
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    if (!map._animatingZoom) return;
    await new Promise((done) => {
      map.once("zoomend", done);
      setTimeout(done, 1000);
    });
  }

  async function drawCounty() {
    const map = state.map;
    await settled(map);
    const outline = map.basemap.features.find((f) => f.properties.layer === "county" && f.properties.code === state.county);
    if (state.located) state.located.remove();
    state.located = L.layerGroup().addTo(map);
    if (outline) {
      const edge = L.geoJSON(outline, { pane: "outline", interactive: false, style: { color: "#8a1c1c", weight: 2.5, fill: false } });
      edge.addTo(state.located);
      map.fitBounds(edge.getBounds(), { padding: [10, 10], animate: false });
    }
    const data = await api(`/places?located=true&county=${state.county}&limit=500`);
    state.where = new Map(data.items.map((p) => [p.id, p]));
    for (const p of data.items) addLocated(p, state.located, false);
  }

  function addLocated(p, group, placed) {
    const depot = p.kind === "hub" || p.kind === "warehouse";
    const marker = L.circleMarker([p.lat, p.lon], {
      radius: depot ? 6 : placed ? 6 : p.kind === "township" ? 5 : 3.5,
      color: "#1f2937", weight: 1,
      fillColor: placed ? "#16a34a" : depot ? "#fbbf24" : "#60a5fa", fillOpacity: 0.95,
      bubblingMouseEvents: true,
    });
    const label = depot || placed || p.kind === "township";
    marker.bindTooltip(C.placeName(p) + (label ? "" : " · " + t("kind_" + p.kind)), {
      direction: "top", permanent: label, className: label ? "place-label" : "", offset: [0, -4],
    }).addTo(group);
  }

  // ---- confirming ---------------------------------------------------------------------
  async function confirm(ev) {
    ev.preventDefault();
    const p = state.selected;
    if (!p || !state.pin) return;
    const at = state.pin.getLatLng();
    const source = $("#source").value.trim() || t("places_default_source");
    const box = $("#place-error");
    box.replaceChildren();
    $("#save").disabled = true;
    try {
      const saved = await api("/places/" + encodeURIComponent(p.id), {
        method: "PATCH",
        body: { lon: Number(at.lng.toFixed(6)), lat: Number(at.lat.toFixed(6)), source },
      });
      C.flash(t("places_saved", { name: C.placeName(saved) }), "ok");
      addLocated(saved, state.placed, true);
      if (state.where) state.where.set(saved.id, saved);
      $("#source").value = "";
      unselect();
      await Promise.all([loadList(), loadRecent()]);
    } catch (e) {
      box.replaceChildren(el("p", { class: "alert error", role: "alert" }, t("places_refused") + " " + refusal(e)));
      $("#save").disabled = false;
    }
  }

  /** The API's reason, once (a refused point names both lon and lat with one reason). */
  function refusal(e) {
    if (!Array.isArray(e.detail)) return e.message;
    return [...new Set(e.detail.map((d) => d.msg))].join("; ");
  }

  // ---- recently placed ----------------------------------------------------------------
  const point = (pt) => (pt ? `${pt.lon.toFixed(5)}, ${pt.lat.toFixed(5)}` : t("places_unknown"));

  async function loadRecent() {
    const data = await api(`/places/corrections?county=${state.county}&limit=20`);
    const body = $("#recent tbody");
    body.replaceChildren();
    for (const c of data.items) {
      body.append(el("tr", { dataset: { correction: c.id, place: c.place.id } },
        el("td", {}, C.placeName(c.place), el("div", { class: "hint" }, c.place.id + (c.place.kind ? " · " + t("kind_" + c.place.kind) : ""))),
        el("td", { class: "nowrap" }, point(c)),
        el("td", { class: "nowrap hint" }, point(c.previous)),
        el("td", {}, c.source),
        el("td", { class: "by" }, c.corrected_by_username || String(c.corrected_by || "–")),
        el("td", { class: "nowrap" }, C.dateTime(c.corrected_at)),
      ));
    }
    $("#no-recent").hidden = data.items.length > 0;
  }

  async function main() {
    try {
      filters();
      $("#confirm").onsubmit = confirm;
      $("#cancel").onclick = unselect;
      state.map = await C.baseMap($("#map"), { places: false });
      state.placed = L.layerGroup().addTo(state.map);
      state.map.on("click", drop);
      window.placesMap = state.map;
      await Promise.all([loadList(), drawCounty(), loadRecent()]);
    } catch (e) {
      C.flash(e.message, "error");
    }
    document.body.dataset.placesReady = "1";
  }
  main();
})();
