/* The places page: a county's unlocated townships and villages, busiest first (open
   orders of a day, from GET /api/v1/places); pick one, click its position on the map,
   drag to adjust, confirm (PATCH /api/v1/places/{id}); recent corrections with who and
   when (GET /api/v1/places/corrections). Service points proposed from the field
   (GET /api/v1/place-proposals) are listed and drawn with their accuracy circles, and
   reviewed: accept, move then accept, reject with a note (POST .../accept, .../reject);
   accepting one supersedes the place's other waiting ones (listed with the reviewed).
   The API decides who may place, propose and review what. */
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
      await loadProposals();
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

  // ---- proposals from the field --------------------------------------------------------
  const proposalIcon = L.divIcon({ className: "", html: '<div class="proposal-pin"></div>', iconSize: [18, 18], iconAnchor: [9, 18] });
  const reviewing = { marks: new Map(), moving: null, layer: null };

  async function loadProposals() {
    const data = await api(`/place-proposals?county=${state.county}&limit=200`);
    const waiting = data.items.filter((p) => p.status === "proposed");
    const reviewed = data.items.filter((p) => p.status !== "proposed");
    const perPlace = new Map();
    for (const p of waiting) perPlace.set(p.place.id, (perPlace.get(p.place.id) || 0) + 1);
    renderWaiting(waiting, perPlace);
    renderReviewed(reviewed);
    drawProposals(waiting);
  }

  function thumb(p) {
    if (!p.photo_url) return el("span", { class: "hint" }, t("proposals_no_photo"));
    return el("a", { href: p.photo_url, target: "_blank", rel: "noopener" },
      el("img", { class: "thumb", src: p.photo_url, alt: t("proposals_photo") + " · " + C.placeName(p.place), loading: "lazy" }));
  }

  function placeCell(p, extra) {
    const town = p.place.kind === "township" ? "" : boot.lang === "en" ? p.place.township_pinyin : p.place.township_zh;
    return el("td", {}, C.placeName(p.place), el("div", { class: "hint" }, [town, p.place.id].filter(Boolean).join(" · ")), extra || null);
  }

  function renderWaiting(items, perPlace) {
    const body = $("#proposals tbody");
    body.replaceChildren();
    for (const p of items) {
      const accuracy = p.accuracy_m === null ? "–" : t("proposals_accuracy_m", { m: Math.round(p.accuracy_m) });
      const others = (perPlace.get(p.place.id) || 1) - 1;
      const row = el("tr", { dataset: { proposal: p.id, place: p.place.id } },
        el("td", {}, thumb(p)),
        placeCell(p, others ? el("div", { class: "hint others" }, t("proposals_others", { n: others })) : null),
        el("td", {}, el("span", { class: "by" }, p.proposed_by_username || "–"), " ",
          el("span", { class: "badge" }, t("proposal_source_" + p.source)),
          el("div", { class: "hint nowrap" }, C.dateTime(p.proposed_at))),
        el("td", { class: "num nowrap" }, accuracy),
        el("td", { class: "note" }, p.note || "–"),
        el("td", { class: "actions" }, actions(p)),
      );
      body.append(row);
    }
    $("#no-proposals").hidden = items.length > 0;
    $("#proposals").closest(".scroll").hidden = items.length === 0;
    $("#proposals-count").textContent = t("proposals_count", { n: items.length });
    $("#proposals-count").className = "badge" + (items.length ? " up" : "");
  }

  function actions(p) {
    const moved = el("div", { class: "hint moved" });
    const accept = el("button", { type: "button", class: "primary accept", onclick: () => review(p, "accept") }, t("proposals_accept"));
    const move = el("button", { type: "button", class: "move", onclick: () => startMove(p, accept, move, moved) }, t("proposals_move"));
    const note = el("input", { type: "text", name: "note", maxlength: "500", required: true, placeholder: t("proposals_reject_note"), "aria-label": t("proposals_reject_note") });
    const reject = el("form", { class: "reject-form", hidden: true, onsubmit: (ev) => { ev.preventDefault(); review(p, "reject", note.value); } },
      note, el("button", { type: "submit", class: "danger" }, t("proposals_reject_confirm")));
    const open = el("button", { type: "button", class: "reject", onclick: () => { reject.hidden = !reject.hidden; if (!reject.hidden) note.focus(); } }, t("proposals_reject"));
    const show = el("button", { type: "button", class: "show", onclick: () => focusProposal(p.id, true) }, t("proposals_show"));
    return [el("div", { class: "buttons" }, show, accept, move, open), moved, reject];
  }

  function renderReviewed(items) {
    const body = $("#reviewed tbody");
    body.replaceChildren();
    for (const p of items.slice(0, 50)) {
      body.append(el("tr", { dataset: { proposal: p.id, place: p.place.id, status: p.status } },
        placeCell(p),
        el("td", {}, el("span", { class: "badge " + ({ accepted: "ok", rejected: "bad" }[p.status] || "") }, t("proposal_status_" + p.status))),
        el("td", {}, p.proposed_by_username || "–", el("div", { class: "hint nowrap" }, C.dateTime(p.proposed_at))),
        el("td", { class: "by" }, p.reviewed_by_username || "–", el("div", { class: "hint nowrap" }, C.dateTime(p.reviewed_at))),
        el("td", {}, p.review_note || "–"),
      ));
    }
    $("#reviewed-count").textContent = t("proposals_reviewed_count", { n: items.length });
  }

  function drawProposals(items) {
    if (reviewing.layer) reviewing.layer.remove();
    reviewing.layer = L.layerGroup().addTo(state.map);
    reviewing.marks.clear();
    reviewing.moving = null;
    $("#move-hint").hidden = true;
    for (const p of items) {
      const at = [p.lat, p.lon];
      const circle = p.accuracy_m ? L.circle(at, { radius: p.accuracy_m, color: "#ea580c", weight: 1, fillOpacity: 0.12, interactive: false }).addTo(reviewing.layer) : null;
      const marker = L.marker(at, { icon: proposalIcon, draggable: false, keyboard: false, autoPan: true }).addTo(reviewing.layer);
      marker.bindTooltip(t("proposals_marker", { name: C.placeName(p.place), who: p.proposed_by_username || "–" }), { direction: "top", offset: [0, -16] });
      marker.on("click", () => focusProposal(p.id, false));
      marker.on("drag", () => { if (circle) circle.setLatLng(marker.getLatLng()); });
      reviewing.marks.set(p.id, { marker, circle, proposal: p });
    }
  }

  function focusProposal(id, pan) {
    document.querySelectorAll("#proposals tbody tr").forEach((r) => r.setAttribute("aria-selected", String(r.dataset.proposal === String(id))));
    const mark = reviewing.marks.get(id);
    if (pan && mark) {
      state.map.setView(mark.marker.getLatLng(), Math.max(state.map.getZoom(), 15), { animate: false });
      mark.marker.openTooltip();
      $("#map").scrollIntoView({ block: "nearest" });
    }
    if (!pan) {
      const row = document.querySelector(`#proposals tbody tr[data-proposal="${id}"]`);
      if (row) row.scrollIntoView({ block: "nearest" });
    }
  }

  function startMove(p, accept, move, moved) {
    const mark = reviewing.marks.get(p.id);
    if (!mark) return;
    if (reviewing.moving === p.id) { // cancel: back to the proposed point
      mark.marker.dragging.disable();
      mark.marker.setLatLng([p.lat, p.lon]);
      if (mark.circle) mark.circle.setLatLng([p.lat, p.lon]);
      reviewing.moving = null;
      accept.textContent = t("proposals_accept");
      move.textContent = t("proposals_move");
      moved.textContent = "";
      $("#move-hint").hidden = true;
      return;
    }
    if (reviewing.moving !== null) return;
    reviewing.moving = p.id;
    mark.marker.dragging.enable();
    mark.marker.on("dragend", () => {
      const at = mark.marker.getLatLng();
      moved.textContent = t("proposals_moved_to", { lon: at.lng.toFixed(5), lat: at.lat.toFixed(5) });
    });
    accept.textContent = t("proposals_accept_moved");
    move.textContent = t("proposals_cancel_move");
    $("#move-hint").hidden = false;
    focusProposal(p.id, true);
  }

  async function review(p, action, note) {
    const box = $("#proposal-error");
    box.replaceChildren();
    const body = { note: note === undefined ? "" : note.trim() };
    const mark = reviewing.marks.get(p.id);
    if (action === "accept" && reviewing.moving === p.id && mark) {
      const at = mark.marker.getLatLng();
      Object.assign(body, { lon: Number(at.lng.toFixed(6)), lat: Number(at.lat.toFixed(6)) });
    }
    try {
      const done = await api(`/place-proposals/${p.id}/${action}`, { method: "POST", body });
      if (action === "accept") {
        C.flash(t("proposals_accepted", { name: C.placeName(done.place) }), "ok");
        addLocated(done.place, state.placed, true);
        if (state.where) state.where.set(done.place.id, done.place);
      } else {
        C.flash(t("proposals_rejected", { name: C.placeName(done.place) }), "ok");
      }
      await Promise.all([loadProposals(), loadList(), loadRecent()]);
    } catch (e) {
      box.replaceChildren(el("p", { class: "alert error", role: "alert" }, t("proposals_refused") + " " + refusal(e)));
    }
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
      await loadProposals();
    } catch (e) {
      C.flash(e.message, "error");
    }
    document.body.dataset.placesReady = "1";
  }
  main();
})();
