/* Capacity (运力): a logistics firm posts a truck's planned route (stops picked on the map
   or from the list, a time at each), its room (kg, m³), fittings and prices; it edits
   (vehicle type, prices, public) and withdraws its own postings and sees the room left on
   each leg. Everything through the JSON API (/capacity, /freight-bookings). */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const state = { map: null, draft: null, shown: null, stops: [], postings: [] };
  const yuanToFen = (v) => (v === "" || v === undefined ? null : Math.round(Number(v) * 100));
  const fenToYuan = (f) => (f === null || f === undefined ? "" : (f / 100).toFixed(2));

  function vehicleOptions(select, current) {
    const codes = [...boot.vehicle_types];
    if (current && !codes.includes(current)) codes.push(current);
    select.replaceChildren(...codes.map((c) => el("option", { value: c }, T.vehicle(c))));
    if (current) select.value = current;
  }

  // ---- the route being posted ----------------------------------------------------------
  function addStop(p) {
    const last = state.stops[state.stops.length - 1];
    let time = T.dayAt(1, "08:00");
    if (last && last.time) {
      const d = new Date(T.iso(last.time));
      d.setTime(d.getTime() + 3600 * 1000);
      time = T.local(d);
    }
    state.stops.push({ place: p, time });
    drawStops();
  }

  function drawStops() {
    const list = $("#stops");
    list.replaceChildren(...state.stops.map((s, i) => {
      const time = el("input", { type: "datetime-local", value: s.time, "aria-label": t("stop_time") + " " + (i + 1) });
      time.onchange = () => { s.time = time.value; };
      const up = el("button", { type: "button", class: "link", title: t("move_up"), "aria-label": t("move_up") }, "↑");
      up.disabled = i === 0;
      up.onclick = () => { [state.stops[i - 1], state.stops[i]] = [state.stops[i], state.stops[i - 1]]; drawStops(); };
      const drop = el("button", { type: "button", class: "link remove", title: t("remove"), "aria-label": t("remove") }, "✕");
      drop.onclick = () => { state.stops.splice(i, 1); drawStops(); };
      return el("li", { class: "field", dataset: { field: "stops." + i, place: s.place.id } },
        el("span", { class: "stop-name" }, C.placeName(s.place)),
        el("span", { class: "field", dataset: { field: "stops." + i + ".time" } }, time),
        el("span", { class: "stop-tools" }, up, drop));
    }));
    if (!state.stops.length) list.append(el("li", { class: "hint empty-stops" }, t("stops_empty")));
    if (state.draft) state.draft.remove();
    state.draft = state.stops.length > 1
      ? L.polyline(state.stops.map((s) => [s.place.lat, s.place.lon]), { color: "#7c3aed", weight: 3, dashArray: "6 6", className: "route-draft" }).addTo(state.map)
      : null;
  }

  function setupForm() {
    const form = $("#capacity-form");
    vehicleOptions(form.vehicle_type, "box_4_2m");
    const find = $("#stop-find");
    const add = () => {
      const p = T.placeOf(find.value);
      if (!p) { C.flash(t("choose_place"), "warn"); return; }
      addStop(p);
      find.value = "";
    };
    $("#add-stop").onclick = add;
    find.onchange = () => { if (T.placeOf(find.value)) add(); };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      T.clearErrors(form);
      const number = (v) => (v === "" ? null : Number(v));
      const body = {
        vehicle_type: form.vehicle_type.value,
        capacity_kg: number(form.capacity_kg.value), capacity_m3: number(form.capacity_m3.value),
        price_per_km_fen: yuanToFen(form.price_per_km.value), price_per_tkm_fen: yuanToFen(form.price_per_tkm.value),
        refrigerated: form.refrigerated.checked, livestock: form.livestock.checked, public: form.public.checked,
        stops: state.stops.map((s) => ({ place: s.place.id, lon: s.place.lon, lat: s.place.lat, time: T.iso(s.time) })),
      };
      const intent = "capacity-post:" + JSON.stringify(body);
      await T.busy($("#post-capacity"), t("posting"), async () => {
        try {
          const p = await api("/capacity", { method: "POST", body, headers: { "Idempotency-Key": T.key(intent) } });
          T.dropKey(intent);
          C.flash(t("capacity_posted", { id: p.id }), "ok");
          state.stops = [];
          drawStops();
          await loadMine();
          showPosting(p);
        } catch (e) {
          T.showErrors(form, e);
        }
      });
    };
  }

  // ---- my postings ---------------------------------------------------------------------
  function stopName(s) {
    return T.pointName(s);
  }

  function legsView(p) {
    return el("ul", { class: "legs plain" }, p.legs.map((leg) => {
      const a = p.stops[leg.seq], b = p.stops[leg.seq + 1];
      const pct = Math.max(0, Math.min(100, Math.round((100 * leg.remaining_kg) / p.capacity_kg)));
      return el("li", { class: "leg", dataset: { seq: leg.seq, remainingKg: leg.remaining_kg } },
        el("div", { class: "leg-name" }, `${stopName(a)} → ${stopName(b)}`, el("span", { class: "hint" }, " " + C.time(a.time) + "–" + C.time(b.time))),
        el("div", { class: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(p.capacity_kg), "aria-valuenow": String(leg.remaining_kg), "aria-label": t("room_left") },
          el("div", { class: "fill" + (pct < 20 ? " low" : ""), style: `width:${pct}%` })),
        el("div", { class: "leg-room" }, t("room_left_is", { kg: C.num(leg.remaining_kg, 0), m3: C.num(leg.remaining_m3, 1) })));
    }));
  }

  function prices(p) {
    const out = [];
    if (p.price_per_km_fen !== null) out.push(C.yuan(p.price_per_km_fen) + "/" + t("km"));
    if (p.price_per_tkm_fen !== null) out.push(C.yuan(p.price_per_tkm_fen) + "/" + t("tkm"));
    return out.join(" · ");
  }

  function postingCard(p) {
    const tools = [el("button", { type: "button", class: "show", onclick: () => showPosting(p) }, t("show_on_map"))];
    if (p.status === "open") {
      tools.push(el("button", { type: "button", class: "edit", onclick: (ev) => edit(p, ev.target.closest("article")) }, t("edit")));
      tools.push(el("button", { type: "button", class: "link withdraw", onclick: () => withdraw(p) }, t("withdraw")));
    }
    const fittings = [p.refrigerated ? t("refrigerated") : null, p.livestock ? t("livestock") : null, p.public ? t("public_badge") : null].filter(Boolean);
    return el("article", { class: "item", dataset: { capacity: p.id, status: p.status } },
      el("div", { class: "item-head" }, el("strong", {}, `#${p.id} ${T.vehicle(p.vehicle_type)}`), T.status(p.status)),
      el("div", { class: "hint" }, `${T.kg(p.capacity_kg)} · ${T.m3(p.capacity_m3)} · ${prices(p)}`, fittings.length ? " · " + fittings.join(" · ") : ""),
      legsView(p),
      el("div", { class: "item-foot" }, el("span", { class: "spacer" }), ...tools),
    );
  }

  async function loadMine() {
    const box = $("#my-capacity");
    const data = await api("/capacity?mine=true&sort=-id&limit=50");
    state.postings = data.items;
    box.replaceChildren(...(data.items.length ? data.items.map(postingCard) : [T.empty(t("capacity_none"))]));
  }

  function showPosting(p) {
    if (state.shown) state.shown.remove();
    const group = L.layerGroup().addTo(state.map);
    const line = L.polyline(p.stops.map((s) => [s.lat, s.lon]), { color: "#2563eb", weight: 4, opacity: 0.85, className: "route-planned" }).addTo(group);
    p.stops.forEach((s, i) => L.marker([s.lat, s.lon], {
      icon: L.divIcon({ className: "", html: `<div class="stop-num" style="border-color:#2563eb">${i + 1}</div>`, iconSize: [18, 18] }),
    }).bindTooltip(`${i + 1}. ${stopName(s)} · ${C.dateTime(s.time)}`).addTo(group));
    state.shown = group;
    state.map.invalidateSize();
    state.map.fitBounds(line.getBounds(), { paddingTopLeft: [30, 30], paddingBottomRight: [30, 50], maxZoom: 11, animate: false });
    document.querySelectorAll("#my-capacity .item").forEach((n) => n.classList.toggle("selected", Number(n.dataset.capacity) === p.id));
  }

  function edit(p, card) {
    if (card.querySelector(".edit-form")) return;
    const form = document.getElementById("edit-tpl").content.firstElementChild.cloneNode(true);
    vehicleOptions(form.vehicle_type, p.vehicle_type);
    form.price_per_km.value = fenToYuan(p.price_per_km_fen);
    form.price_per_tkm.value = fenToYuan(p.price_per_tkm_fen);
    form.public.checked = !!p.public;
    form.querySelector(".cancel-edit").onclick = () => form.remove();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const body = {
        vehicle_type: form.vehicle_type.value, public: form.public.checked,
        price_per_km_fen: yuanToFen(form.price_per_km.value), price_per_tkm_fen: yuanToFen(form.price_per_tkm.value),
      };
      try {
        await api("/capacity/" + p.id, { method: "PATCH", body });
        C.flash(t("capacity_saved", { id: p.id }), "ok");
        await loadMine();
      } catch (e) {
        T.showErrors(form, e);
      }
    };
    card.append(form);
    form.vehicle_type.focus();
  }

  async function withdraw(p) {
    if (!confirm(t("capacity_withdraw_confirm", { id: p.id }))) return;
    try {
      await api(`/capacity/${p.id}/close`, { method: "POST" });
      C.flash(t("capacity_withdrawn", { id: p.id }), "ok");
      await loadMine();
    } catch (e) {
      C.flash(e.message, "error");
    }
  }

  async function loadCarried() {
    const data = await api("/freight-bookings?side=carrier&sort=-id&limit=100");
    const body = $("#carried tbody");
    $("#no-carried").hidden = data.items.length > 0;
    body.replaceChildren(...data.items.map((b) => el("tr", { dataset: { booking: b.id } },
      el("td", {}, "#" + b.id), el("td", {}, "#" + b.capacity_id), el("td", {}, "#" + b.cargo_id),
      el("td", { class: "num" }, C.num(b.weight_kg, 0)), el("td", {}, `${b.first_leg + 1}–${b.last_leg + 1}`),
      el("td", { class: "num" }, C.yuan(b.price_fen)), el("td", { class: "nowrap" }, C.dateTime(b.created_at)))));
  }

  async function start() {
    setupForm();
    await T.loadPlaces($("#place-list"));
    state.map = await T.pickMap($("#map"), (p) => addStop(p));
    drawStops();
    await Promise.all([loadMine(), loadCarried()]);
    if (state.postings.length && window.matchMedia("(max-width: 1000px)").matches) $("#capacity-form-box").open = false;
    const first = state.postings.find((p) => p.status === "open");
    if (first) showPosting(first);
    T.ready();
  }
  start().catch((e) => C.flash(e.message, "error"));
})();
