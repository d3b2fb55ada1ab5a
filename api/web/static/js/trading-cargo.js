/* Cargo (货源): a shipper or cooperative posts a cargo; its matches come ranked by the
   detour the cargo adds to each truck's planned route (GET /cargo/{id}/matches, the same
   numbers the API gives any program), drawn on the map (the planned route and the route
   with the cargo, GET /cargo/{id}/matches/{truck}/route); one tap books, with an
   Idempotency-Key made once per cargo and truck, so a double tap books once. A booking
   that lost the race (the room was taken meanwhile) says so and offers the next match. */
"use strict";

(function () {
  const { t, api, el } = C;
  const $ = (sel) => document.querySelector(sel);
  const params = new URLSearchParams(location.search);
  const narrow = () => window.matchMedia("(max-width: 1000px)").matches;
  const state = { map: null, layer: null, cargos: [], cargo: null, matches: [], shown: null, pickTarget: null };

  // ---- the form ------------------------------------------------------------------------
  function setupForm() {
    const form = $("#cargo-form");
    form.pickup_start.value = T.dayAt(1, "08:00");
    form.pickup_end.value = T.dayAt(1, "12:00");
    form.deliver_by.value = T.dayAt(1, "20:00");
    form.querySelectorAll("button.pick").forEach((b) => {
      b.onclick = () => {
        state.pickTarget = b.dataset.pick;
        form.querySelectorAll("button.pick").forEach((x) => x.classList.toggle("active", x === b));
        C.flash(t("pick_now"), "info");
        $("#map").scrollIntoView({ behavior: "smooth", block: "center" });
      };
    });
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      T.clearErrors(form);
      const origin = T.placeOf(form.origin.value);
      const destination = T.placeOf(form.destination.value);
      const missing = [];
      if (!origin) missing.push({ loc: ["body", "origin_lon"], msg: t("choose_place") });
      if (!destination) missing.push({ loc: ["body", "destination_lon"], msg: t("choose_place") });
      if (missing.length) return T.showErrors(form, { detail: missing });
      const number = (v) => (v === "" ? null : Number(v));
      const body = {
        origin: origin.id, origin_lon: origin.lon, origin_lat: origin.lat,
        destination: destination.id, destination_lon: destination.lon, destination_lat: destination.lat,
        weight_kg: number(form.weight_kg.value), volume_m3: number(form.volume_m3.value),
        temperature: form.temperature.value, live_animal: form.live_animal.checked,
        pickup_start: T.iso(form.pickup_start.value), pickup_end: T.iso(form.pickup_end.value),
        deliver_by: T.iso(form.deliver_by.value),
        offered_price_fen: form.offered_price.value === "" ? null : Math.round(Number(form.offered_price.value) * 100),
        public: form.public.checked,
      };
      const intent = "cargo-post:" + JSON.stringify(body);
      await T.busy($("#post-cargo"), t("posting"), async () => {
        try {
          const cargo = await api("/cargo", { method: "POST", body, headers: { "Idempotency-Key": T.key(intent) } });
          T.dropKey(intent);
          C.flash(t("cargo_posted", { id: cargo.id }), "ok");
          form.weight_kg.value = form.volume_m3.value = form.offered_price.value = "";
          if (narrow()) $("#cargo-form-box").open = false;
          await loadCargo();
          await select(cargo.id);
        } catch (e) {
          T.showErrors(form, e);
        }
      });
    };
  }

  function pickPlace(p) {
    const form = $("#cargo-form");
    const target = state.pickTarget || (!form.origin.value ? "origin" : "destination");
    form[target].value = T.placeOption(p);
    state.pickTarget = target === "origin" && !form.destination.value ? "destination" : null;
    form.querySelectorAll("button.pick").forEach((x) => x.classList.toggle("active", x.dataset.pick === state.pickTarget));
  }

  // ---- my cargo ------------------------------------------------------------------------
  function cargoRoute(c) {
    const a = T.places.get(c.origin);
    const b = T.places.get(c.destination);
    return `${a ? C.placeName(a) : c.origin || "–"} → ${b ? C.placeName(b) : c.destination || "–"}`;
  }

  async function loadCargo() {
    const box = $("#my-cargo");
    const data = await api("/cargo?mine=true&sort=-id&limit=50");
    state.cargos = data.items;
    if (!data.items.length) return box.replaceChildren(T.empty(t("cargo_none")));
    box.replaceChildren(...data.items.map((c) => {
      const actions = [el("button", { type: "button", class: "show-matches", onclick: () => select(c.id) }, c.status === "open" ? t("see_matches") : t("see_booking"))];
      if (c.status === "open") actions.push(el("button", { type: "button", class: "link withdraw", onclick: () => withdraw(c) }, t("withdraw")));
      return el("article", { class: "item" + (state.cargo && state.cargo.id === c.id ? " selected" : ""), dataset: { cargo: c.id, status: c.status } },
        el("div", { class: "item-head" }, el("strong", {}, "#" + c.id + " " + cargoRoute(c)), T.status(c.status)),
        el("div", { class: "hint" }, `${T.kg(c.weight_kg)} · ${T.m3(c.volume_m3)} · ${T.temp(c.temperature)}${c.live_animal ? " · " + t("live_animal") : ""}`),
        el("div", { class: "hint" }, t("pickup_window", { from: C.dateTime(c.pickup_start), to: C.time(c.pickup_end) }), " · ", t("deliver_by_short", { at: C.dateTime(c.deliver_by) })),
        el("div", { class: "item-foot" }, el("span", {}, t("offered"), " ", el("strong", {}, C.yuan(c.offered_price_fen))), c.public ? T.badge(t("public_badge")) : null, el("span", { class: "spacer" }), ...actions),
      );
    }));
  }

  async function withdraw(c) {
    if (!confirm(t("cargo_withdraw_confirm", { id: c.id }))) return;
    try {
      await api(`/cargo/${c.id}/cancel`, { method: "POST" });
      C.flash(t("cargo_withdrawn", { id: c.id }), "ok");
      if (state.cargo && state.cargo.id === c.id) { state.cargo = null; $("#matches").replaceChildren(T.empty(t("matches_pick_cargo"))); state.layer.clearLayers(); }
      await loadCargo();
    } catch (e) {
      C.flash(e.message, "error");
    }
  }

  // ---- matches -------------------------------------------------------------------------
  async function select(id, note) {
    state.cargo = state.cargos.find((c) => c.id === id) || (await api("/cargo/" + id));
    document.querySelectorAll("#my-cargo .item").forEach((n) => n.classList.toggle("selected", Number(n.dataset.cargo) === id));
    history.replaceState(null, "", "?cargo=" + id);
    $("#matches-of").textContent = "#" + id + " " + cargoRoute(state.cargo);
    const box = $("#matches");
    box.replaceChildren(T.loading());
    if (!note) $("#book-result").replaceChildren();
    if (narrow() && !note) $("#matches-card").scrollIntoView({ block: "start" });
    if (state.cargo.status === "booked") return showBooking(state.cargo);
    if (state.cargo.status !== "open") return box.replaceChildren(T.empty(t("cargo_not_open")));
    try {
      state.matches = await api(`/cargo/${id}/matches?limit=10`);
    } catch (e) {
      return box.replaceChildren(el("p", { class: "alert error" }, e.message));
    }
    $("#matches-title").textContent = t("matches_title") + " (" + state.matches.length + ")";
    if (!state.matches.length) {
      state.layer.clearLayers();
      return box.replaceChildren(T.empty(t("matches_none")));
    }
    box.replaceChildren(el("ol", { class: "matches" }, state.matches.map((m, i) => matchItem(m, i))));
    await show(state.matches[0]);
  }

  function matchItem(m, i) {
    const button = el("button", { type: "button", class: "primary book", dataset: { capacity: m.capacity_id } }, t("book_for", { price: C.yuan(m.suggested_price_fen) }));
    button.addEventListener("click", (ev) => { ev.stopPropagation(); book(m, button); });
    const fittings = [m.refrigerated ? t("refrigerated") : null, m.livestock ? t("livestock") : null].filter(Boolean).join(" · ");
    return el("li", { class: "match", tabindex: "0", dataset: { capacity: m.capacity_id, detourKm: m.detour_km, price: m.suggested_price_fen }, onclick: () => show(m), onkeydown: (ev) => { if (ev.key === "Enter") show(m); } },
      el("div", { class: "rank" }, String(i + 1)),
      el("div", { class: "body" },
        el("div", { class: "item-head" }, el("strong", {}, `${T.vehicle(m.vehicle_type)} #${m.capacity_id}`), el("span", { class: "hint" }, m.org_name || "")),
        el("div", { class: "facts" },
          el("span", { class: "detour" }, t("detour"), " ", el("strong", { class: "detour-km" }, "+" + C.num(m.detour_km, 1) + " " + t("km")), " · ", el("strong", { class: "detour-min" }, "+" + m.detour_min + " " + t("minutes"))),
          el("span", { class: "price" }, t("suggested_price"), " ", el("strong", { class: "price-fen" }, C.yuan(m.suggested_price_fen))),
        ),
        el("div", { class: "hint" }, t("truck_times", { from: C.dateTime(m.departs_at), to: C.dateTime(m.arrives_at) }), " · ", t("room_on_legs", { kg: C.num(m.room_kg, 0), m3: C.num(m.room_m3, 1) }), fittings ? " · " + fittings : ""),
      ),
      el("div", { class: "act" }, button),
    );
  }

  async function show(m) {
    state.shown = m.capacity_id;
    document.querySelectorAll("#matches li.match").forEach((n) => n.classList.toggle("selected", Number(n.dataset.capacity) === m.capacity_id));
    try {
      const r = await api(`/cargo/${state.cargo.id}/matches/${m.capacity_id}/route`);
      if (state.shown === m.capacity_id) draw(r);
    } catch (e) {
      C.flash(e.message, "warn");
    }
  }

  function draw(r) {
    const layer = state.layer;
    layer.clearLayers();
    const ll = (c) => [c[1], c[0]];
    const planned = L.polyline(r.planned.coordinates.map(ll), { color: "#2563eb", weight: 4, opacity: 0.8, className: "route-planned" }).addTo(layer);
    const detour = L.polyline(r.with_cargo.coordinates.map(ll), { color: "#ea580c", weight: 4, dashArray: "8 6", className: "route-detour" }).addTo(layer);
    r.stops.forEach((s, i) => {
      L.marker([s.lat, s.lon], {
        icon: L.divIcon({ className: "", html: `<div class="stop-num" style="border-color:#2563eb">${i + 1}</div>`, iconSize: [18, 18] }),
      }).bindTooltip(`${i + 1}. ${T.pointName(s)} · ${C.dateTime(s.time)}`).addTo(layer);
    });
    L.circleMarker(ll(r.pickup), { radius: 8, color: "#fff", weight: 2, fillColor: "#16a34a", fillOpacity: 1, className: "pickup" }).bindTooltip(t("legend_pickup")).addTo(layer);
    L.circleMarker(ll(r.delivery), { radius: 8, color: "#fff", weight: 2, fillColor: "#dc2626", fillOpacity: 1, className: "delivery" }).bindTooltip(t("legend_delivery")).addTo(layer);
    const bounds = planned.getBounds().extend(detour.getBounds()).extend(ll(r.pickup)).extend(ll(r.delivery));
    state.map.invalidateSize();
    state.map.fitBounds(bounds, { paddingTopLeft: [30, 30], paddingBottomRight: [30, 50], maxZoom: 11, animate: false });
    $("#map").dataset.shown = r.capacity_id;
  }

  // ---- booking -------------------------------------------------------------------------
  async function book(m, button) {
    if (button.disabled) return;
    const cargo = state.cargo;
    const intent = `book:${cargo.id}:${m.capacity_id}`;
    const result = $("#book-result");
    result.replaceChildren();
    document.querySelectorAll("#matches button.book").forEach((b) => (b.disabled = true));
    await T.busy(button, t("booking"), async () => {
      try {
        const b = await api(`/cargo/${cargo.id}/book`, { method: "POST", body: { capacity_id: m.capacity_id }, headers: { "Idempotency-Key": T.key(intent) } });
        T.dropKey(intent);
        result.replaceChildren(el("p", { class: "alert ok", role: "status", dataset: { booking: b.id } }, t("booked", { id: b.id, truck: m.capacity_id, price: C.yuan(b.price_fen) })));
        await loadCargo();
        await select(cargo.id, true);
      } catch (e) {
        T.dropKey(intent);  // refused: nothing was booked; a new attempt is a new intent
        if (e.status === 409 || e.status === 422) {
          await lost(m, e);
        } else {
          result.replaceChildren(el("p", { class: "alert error", role: "alert" }, e.message));
        }
      }
    });
    document.querySelectorAll("#matches button.book").forEach((b) => (b.disabled = false));
  }

  async function lost(m, e) {
    await loadCargo();
    await select(state.cargo.id, true);
    const next = state.matches.find((x) => x.capacity_id !== m.capacity_id) || state.matches[0];
    const result = $("#book-result");
    const text = state.cargo.status !== "open" ? t("lost_cargo_taken", { detail: e.message })
      : next ? t("lost_race_next", { truck: m.capacity_id, next: next.capacity_id, km: C.num(next.detour_km, 1), price: C.yuan(next.suggested_price_fen) })
      : t("lost_race_none", { truck: m.capacity_id });
    result.replaceChildren(el("p", { class: "alert warn lost", role: "alert" }, text, el("span", { class: "hint" }, " (" + e.message + ")")));
    if (next && state.cargo.status === "open") {
      await show(next);
      const item = document.querySelector(`#matches li.match[data-capacity="${next.capacity_id}"]`);
      if (item) { item.classList.add("next"); item.focus(); }
    }
  }

  async function showBooking(cargo) {
    const data = await api(`/freight-bookings?cargo_id=${cargo.id}`);
    const b = data.items.find((x) => x.status === "confirmed") || data.items[0];
    const box = $("#matches");
    if (!b) return box.replaceChildren(T.empty(t("cargo_not_open")));
    box.replaceChildren(el("div", { class: "booking", dataset: { booking: b.id } },
      el("p", {}, el("strong", {}, t("booking_of", { id: b.id, truck: b.capacity_id })), " ", T.status(b.status)),
      el("p", { class: "hint" }, t("booking_facts", { kg: C.num(b.weight_kg, 0), m3: C.num(b.volume_l / 1000, 1), legs: `${b.first_leg + 1}–${b.last_leg + 1}`, price: C.yuan(b.price_fen), at: C.dateTime(b.created_at) })),
    ));
    $("#matches-title").textContent = t("booking_title");
    try {
      draw(await api(`/cargo/${cargo.id}/matches/${b.capacity_id}/route`));
    } catch (e) {
      state.layer.clearLayers();
    }
  }

  // ---- start -----------------------------------------------------------------------------
  async function start() {
    setupForm();
    await T.loadPlaces($("#place-list"));
    state.map = await T.pickMap($("#map"), pickPlace);
    state.layer = L.layerGroup().addTo(state.map);
    await loadCargo();
    if (state.cargos.length && narrow()) $("#cargo-form-box").open = false;
    const wanted = Number(params.get("cargo"));
    if (wanted) await select(wanted, true);
    else {
      const open = state.cargos.find((c) => c.status === "open");
      if (open) await select(open.id, true);
    }
    T.ready();
  }
  start().catch((e) => C.flash(e.message, "error"));
})();
