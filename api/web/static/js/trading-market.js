/* The information board (物流信息发布): the prefecture's open truck capacity and cargo,
   filtered by county, date, vehicle type and temperature (GET /market/{kind}). Readable
   without signing in: then only what the posting firms made public. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const state = { kind: "capacity" };

  function capacityCard(p) {
    const stops = p.stops.map((s) => `${T.pointName(s)} ${C.time(s.time)}`).join(" → ");
    const fittings = [p.refrigerated ? t("refrigerated") : null, p.livestock ? t("livestock") : null].filter(Boolean);
    const price = [p.price_per_km_fen !== null ? C.yuan(p.price_per_km_fen) + "/" + t("km") : null, p.price_per_tkm_fen !== null ? C.yuan(p.price_per_tkm_fen) + "/" + t("tkm") : null].filter(Boolean).join(" · ");
    return el("article", { class: "item", dataset: { capacity: p.id } },
      el("div", { class: "item-head" }, el("strong", {}, `${T.vehicle(p.vehicle_type)} #${p.id}`), el("span", { class: "hint" }, p.org_name || "")),
      el("div", {}, stops),
      el("div", { class: "hint" }, C.dateTime(p.stops[0] && p.stops[0].time), " · ", t("room_up_to", { kg: C.num(p.room_kg, 0), m3: C.num(p.room_m3, 1) }), fittings.length ? " · " + fittings.join(" · ") : ""),
      el("div", { class: "item-foot" }, el("span", {}, price), el("span", { class: "spacer" }), ...p.counties.map((c) => T.badge(C.countyName(c), "county"))));
  }

  function cargoCard(c) {
    return el("article", { class: "item", dataset: { cargo: c.id } },
      el("div", { class: "item-head" }, el("strong", {}, `#${c.id} ${T.pointName(c.origin)} → ${T.pointName(c.destination)}`), el("span", { class: "hint" }, c.org_name || "")),
      el("div", { class: "hint" }, `${T.kg(c.weight_kg)} · ${T.m3(c.volume_m3)} · ${T.temp(c.temperature)}${c.live_animal ? " · " + t("live_animal") : ""}`),
      el("div", { class: "hint" }, t("pickup_window", { from: C.dateTime(c.pickup_start), to: C.time(c.pickup_end) }), " · ", t("deliver_by_short", { at: C.dateTime(c.deliver_by) })),
      el("div", { class: "item-foot" }, el("span", {}, t("offered"), " ", el("strong", {}, C.yuan(c.offered_price_fen))), el("span", { class: "spacer" }), ...c.counties.map((x) => T.badge(C.countyName(x), "county")),
        boot.trader ? el("a", { class: "button", href: "/trade/capacity" }, t("post_capacity_for_it")) : null));
  }

  async function load() {
    const f = $("#market-filters");
    const q = new URLSearchParams({ limit: "100" });
    for (const name of ["county", "day", "temperature"]) if (f[name].value) q.set(name, f[name].value);
    if (state.kind === "capacity" && f.vehicle_type.value) q.set("vehicle_type", f.vehicle_type.value);
    document.querySelectorAll("#market-filters [role=tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.kind === state.kind)));
    f.querySelector(".only-capacity").hidden = state.kind !== "capacity";
    const box = $("#market");
    box.replaceChildren(T.loading());
    try {
      const data = await api(`/market/${state.kind}?` + q);
      $("#market-count").textContent = t("n_results", { n: data.total });
      $("#market-scope").textContent = data.public_only ? t("market_public_only") : t("market_all_open");
      box.replaceChildren(...(data.items.length ? data.items.map(state.kind === "capacity" ? capacityCard : cargoCard) : [T.empty(t("market_none"))]));
    } catch (e) {
      box.replaceChildren(el("p", { class: "alert error" }, e.message));
    }
  }

  async function start() {
    $("#county").replaceChildren(el("option", { value: "" }, t("all_counties")), ...(boot.counties || []).map((c) => el("option", { value: c.code }, C.countyName(c.code))));
    $("#vehicle-type").replaceChildren(el("option", { value: "" }, t("all")), ...boot.vehicle_types.map((v) => el("option", { value: v }, T.vehicle(v))));
    document.querySelectorAll("#market-filters [role=tab]").forEach((b) => (b.onclick = () => { state.kind = b.dataset.kind; load(); }));
    $("#market-filters").onchange = () => load();
    $("#market-filters").onsubmit = (ev) => { ev.preventDefault(); load(); };
    await load();
    T.ready();
  }
  start().catch((e) => C.flash(e.message, "error"));
})();
