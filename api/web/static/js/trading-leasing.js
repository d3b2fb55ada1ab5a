/* Leasing (仓储与设备租赁): lessors list cold rooms, warehouse space and equipment at a hub;
   the calendar shows what is free each day (GET /listings/{id}/availability); lessees book
   a range of days (one Idempotency-Key per booking intent) and cancel; a booking over
   capacity shows the API's refusal, which names the days, and marks them. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const state = { listings: new Map(), listing: null, month: null, days: new Map(), marked: new Set() };
  const myOrg = boot.org ? boot.org.id : null;
  const unitWord = (u) => (u === "m2" ? "m²" : t("unit_items"));

  function addDays(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  const monthOf = (day) => day.slice(0, 7);
  function shiftMonth(month, n) {
    const [y, m] = month.split("-").map(Number);
    const d = new Date(Date.UTC(y, m - 1 + n, 1));
    return d.toISOString().slice(0, 7);
  }

  // ---- listings ------------------------------------------------------------------------
  function kindText(l) {
    return l.kind === "warehouse" ? `${t("kind_warehouse")} · ${T.temp(l.temperature)}` : `${t("kind_equipment")} · ${T.has("eq_" + l.equipment_type) ? t("eq_" + l.equipment_type) : l.equipment_type}`;
  }

  async function loadListings() {
    const f = $("#filters");
    const q = new URLSearchParams({ status: "active", limit: "100", sort: "id" });
    for (const name of ["kind", "county", "available_on"]) if (f[name].value) q.set(name, f[name].value);
    const box = $("#listings");
    box.replaceChildren(T.loading());
    let data;
    try {
      data = await api("/listings?" + q);
    } catch (e) {
      return box.replaceChildren(el("p", { class: "alert error" }, e.message));
    }
    for (const l of data.items) state.listings.set(l.id, l);
    if (!data.items.length) return box.replaceChildren(T.empty(t("listings_none")));
    box.replaceChildren(...data.items.map((l) => {
      const tools = [el("button", { type: "button", class: "open-calendar", onclick: () => select(l.id) }, t("calendar_and_book"))];
      if (l.org_id === myOrg) tools.push(el("button", { type: "button", class: "link withdraw", onclick: () => withdraw(l) }, t("withdraw")));
      return el("article", { class: "item" + (state.listing && state.listing.id === l.id ? " selected" : ""), dataset: { listing: l.id } },
        el("div", { class: "item-head" }, el("strong", {}, l.name), T.badge(kindText(l))),
        el("div", { class: "hint" }, `${l.place_name || l.place_id} · ${C.countyName(l.county_code)} · ${l.org_name || ""}`),
        el("div", { class: "hint" }, t("listing_facts", { capacity: C.num(l.capacity, 0), unit: unitWord(l.unit), price: C.yuan(l.price_per_unit_day_fen), from: l.available_from, to: l.available_to })),
        el("div", { class: "item-foot" }, el("span", { class: "spacer" }), ...tools));
    }));
  }

  async function withdraw(l) {
    if (!confirm(t("listing_withdraw_confirm", { name: l.name }))) return;
    try {
      await api("/listings/" + l.id, { method: "PATCH", body: { status: "withdrawn" } });
      C.flash(t("listing_withdrawn", { name: l.name }), "ok");
      await loadListings();
    } catch (e) {
      C.flash(e.message, "error");
    }
  }

  // ---- the calendar --------------------------------------------------------------------
  async function select(id, quiet) {
    const l = state.listings.get(id) || (await api("/listings/" + id));
    state.listing = l;
    state.marked = new Set();
    document.querySelectorAll("#listings .item").forEach((n) => n.classList.toggle("selected", Number(n.dataset.listing) === id));
    $("#listing-title").textContent = l.name;
    $("#listing-facts").textContent = `${kindText(l)} · ${l.place_name || l.place_id} · ` + t("listing_facts", { capacity: C.num(l.capacity, 0), unit: unitWord(l.unit), price: C.yuan(l.price_per_unit_day_fen), from: l.available_from, to: l.available_to });
    const first = l.available_from > boot.today ? l.available_from : boot.today;
    state.month = monthOf(first);
    const form = $("#lease-form");
    form.hidden = false;
    form.start_day.value = first;
    form.end_day.value = addDays(first, 2);
    form.quantity.value = "1";
    form.querySelectorAll(".unit-label").forEach((n) => (n.textContent = t("quantity") + " (" + unitWord(l.unit) + ")"));
    T.clearErrors(form);
    await drawMonth();
    if (!quiet) $("#listing-card").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  async function drawMonth() {
    const l = state.listing;
    if (!l) return;
    const start = state.month + "-01";
    const end = addDays(shiftMonth(state.month, 1) + "-01", -1);
    $("#month-label").textContent = state.month;
    const box = $("#calendar");
    box.replaceChildren(T.loading());
    const data = await api(`/listings/${l.id}/availability?start=${start}&end=${end}`);
    state.days = new Map(data.days.map((d) => [d.day, d]));
    const heads = t("weekdays").split(",").map((w) => el("div", { class: "cal-head" }, w));
    const firstDow = (new Date(start + "T00:00:00Z").getUTCDay() + 6) % 7; // Monday first
    const cells = [];
    for (let i = 0; i < firstDow; i++) cells.push(el("div", { class: "cal-day blank" }));
    const form = $("#lease-form");
    for (let day = start; day <= end; day = addDays(day, 1)) {
      const d = state.days.get(day);
      const kind = !d ? "off" : d.free <= 0 ? "full" : d.booked > 0 ? "part" : "free";
      const inRange = form.start_day.value && form.end_day.value && day >= form.start_day.value && day <= form.end_day.value;
      const cell = el("button", {
        type: "button", class: `cal-day ${kind}${inRange ? " chosen" : ""}${state.marked.has(day) ? " short" : ""}`,
        dataset: { day, free: d ? d.free : "" }, disabled: !d,
        title: d ? t("cal_day_title", { day, free: d.free, capacity: d.capacity, unit: unitWord(l.unit) }) : day,
      }, el("span", { class: "n" }, String(Number(day.slice(8)))), el("span", { class: "free" }, d ? String(d.free) : ""));
      cell.onclick = () => pickDay(day);
      cells.push(cell);
    }
    box.replaceChildren(...heads, ...cells);
  }

  function pickDay(day) {
    const form = $("#lease-form");
    const a = form.start_day.value;
    if (!a || (form.end_day.value && form.end_day.value !== a) || day < a) {
      form.start_day.value = day;
      form.end_day.value = day;
    } else {
      form.end_day.value = day;
    }
    state.marked = new Set();
    drawMonth();
  }

  // ---- booking -------------------------------------------------------------------------
  function setupBooking() {
    const form = $("#lease-form");
    $("#prev-month").onclick = () => { if (state.listing) { state.month = shiftMonth(state.month, -1); drawMonth(); } };
    $("#next-month").onclick = () => { if (state.listing) { state.month = shiftMonth(state.month, 1); drawMonth(); } };
    for (const name of ["start_day", "end_day"]) form[name].onchange = () => { state.marked = new Set(); drawMonth(); };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      T.clearErrors(form);
      const l = state.listing;
      const body = { start_day: form.start_day.value || null, end_day: form.end_day.value || null, quantity: form.quantity.value === "" ? null : Number(form.quantity.value) };
      const intent = `lease:${l.id}:${JSON.stringify(body)}`;
      await T.busy($("#book-lease"), t("booking"), async () => {
        try {
          const b = await api(`/listings/${l.id}/bookings`, { method: "POST", body, headers: { "Idempotency-Key": T.key(intent) } });
          T.dropKey(intent);
          C.flash(t("lease_booked", { id: b.id, days: b.days, quantity: b.quantity, unit: unitWord(b.unit), price: C.yuan(b.price_fen) }), "ok");
          await Promise.all([drawMonth(), loadBookings()]);
        } catch (e) {
          T.dropKey(intent);
          if (e.status === 409) {
            const box = form.querySelector(".form-errors");
            box.replaceChildren(el("p", { class: "alert error refusal", role: "alert" }, t("lease_refused"), " ", e.message));
            state.marked = new Set((e.message.match(/\d{4}-\d{2}-\d{2}/g) || []));
            if (!state.marked.size) {
              for (const [day, d] of state.days) if (day >= body.start_day && day <= body.end_day && d.free < body.quantity) state.marked.add(day);
            }
            await drawMonth();
            const short = [...state.marked].sort().map((day) => (state.days.has(day) ? t("lease_day_free", { day, free: state.days.get(day).free }) : day));
            if (short.length) box.append(el("p", { class: "hint" }, t("lease_short_days", { days: short.join("、") })));
          } else {
            T.showErrors(form, e);
          }
        }
      });
    };
  }

  async function loadBookings() {
    const data = await api("/bookings?sort=-id&limit=100");
    const body = $("#lease-bookings tbody");
    $("#no-lease-bookings").hidden = data.items.length > 0;
    body.replaceChildren(...data.items.map((b) => {
      const l = state.listings.get(b.listing_id);
      const mine = b.org_id === myOrg;
      const cancel = mine && b.status === "confirmed"
        ? el("button", { type: "button", class: "link cancel-lease", onclick: () => cancelBooking(b) }, t("cancel_booking")) : null;
      return el("tr", { dataset: { booking: b.id, status: b.status } },
        el("td", {}, "#" + b.id), el("td", {}, l ? l.name : "#" + b.listing_id),
        el("td", { class: "nowrap" }, `${b.start_day} – ${b.end_day}`, el("div", { class: "hint" }, t("n_days", { n: b.days }))),
        el("td", { class: "num" }, `${C.num(b.quantity, 0)} ${unitWord(b.unit)}`), el("td", { class: "num" }, C.yuan(b.price_fen)),
        el("td", {}, mine ? t("side_lessee") : t("side_lessor"), " ", T.status(b.status)), el("td", {}, cancel));
    }));
  }

  async function cancelBooking(b) {
    if (!confirm(t("lease_cancel_confirm", { id: b.id }))) return;
    try {
      await api(`/bookings/${b.id}/cancel`, { method: "POST" });
      C.flash(t("lease_cancelled", { id: b.id }), "ok");
      await Promise.all([loadBookings(), drawMonth()]);
    } catch (e) {
      C.flash(e.message, "error");
    }
  }

  // ---- listing an asset ------------------------------------------------------------------
  function setupListingForm() {
    const form = $("#listing-form");
    const hubs = [...T.places.values()].filter((p) => p.kind === "hub" || p.kind === "warehouse");
    form.place_id.replaceChildren(...hubs.map((p) => el("option", { value: p.id }, C.placeName(p))));
    form.equipment_type.replaceChildren(...boot.equipment_types.map((e) => el("option", { value: e }, T.has("eq_" + e) ? t("eq_" + e) : e)));
    form.available_from.value = addDays(boot.today, 1);
    form.available_to.value = addDays(boot.today, 90);
    const kindChanged = () => {
      const ware = form.kind.value === "warehouse";
      form.querySelector(".only-warehouse").hidden = !ware;
      form.querySelector(".only-equipment").hidden = ware;
      form.querySelector("[data-field=capacity] .unit-label").textContent = ware ? t("capacity_m2") : t("capacity_units");
    };
    form.kind.onchange = kindChanged;
    kindChanged();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      T.clearErrors(form);
      const ware = form.kind.value === "warehouse";
      const body = {
        kind: form.kind.value, place_id: form.place_id.value, name: form.name.value,
        temperature: ware ? form.temperature.value : null, equipment_type: ware ? null : form.equipment_type.value,
        capacity: form.capacity.value === "" ? null : Number(form.capacity.value),
        price_per_unit_day_fen: form.price.value === "" ? null : Math.round(Number(form.price.value) * 100),
        available_from: form.available_from.value || null, available_to: form.available_to.value || null,
      };
      const intent = "listing:" + JSON.stringify(body);
      await T.busy($("#post-listing"), t("posting"), async () => {
        try {
          const l = await api("/listings", { method: "POST", body, headers: { "Idempotency-Key": T.key(intent) } });
          T.dropKey(intent);
          C.flash(t("listing_posted", { name: l.name }), "ok");
          form.name.value = form.capacity.value = form.price.value = "";
          await loadListings();
          await select(l.id);
        } catch (e) {
          T.showErrors(form, e);
        }
      });
    };
  }

  async function start() {
    const county = $("#county");
    county.replaceChildren(el("option", { value: "" }, t("all_counties")), ...(boot.counties || []).filter((c) => c.served).map((c) => el("option", { value: c.code }, C.countyName(c.code))));
    $("#filters").onchange = () => loadListings();
    setupBooking();
    await T.loadPlaces(null);
    setupListingForm();
    await Promise.all([loadListings(), loadBookings()]);
    const wanted = Number(new URLSearchParams(location.search).get("listing"));
    const first = wanted || (state.listings.size ? [...state.listings.keys()][0] : 0);
    if (first && (wanted || window.matchMedia("(min-width: 1001px)").matches)) await select(first, true);
    T.ready();
  }
  start().catch((e) => C.flash(e.message, "error"));
})();
