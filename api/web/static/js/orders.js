/* The orders page: import an order file (POST /orders/upload; its row errors shown inline),
   list and filter the orders (GET /orders), and download a plan's unassigned orders and
   route sheets (GET /plans/{id}/unassigned.csv|.xlsx, /sheets.xlsx|.html).
   Every check and every scope is the API's; this script only shows what it answers. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const PAGE = 50;
  const state = { offset: 0, total: 0, places: new Map(), countiesLoaded: new Set() };

  // ---- upload ------------------------------------------------------------------------
  function showRowErrors(errors) {
    const box = $("#row-errors-box");
    const body = $("#row-errors tbody");
    body.replaceChildren();
    for (const e of errors) {
      body.append(el("tr", { class: "row-error", dataset: { line: e.line, column: e.column || "" } },
        el("td", { class: "num line" }, String(e.line)),
        el("td", { class: "column" }, e.column ? el("code", {}, e.column) : "–"),
        el("td", { class: "value" }, e.value === "" || e.value === undefined ? el("span", { class: "muted" }, "–") : el("code", {}, e.value)),
        el("td", { class: "reason" }, e.reason || e.msg || ""),
      ));
    }
    box.hidden = errors.length === 0;
  }

  function result(kind, message, extra) {
    $("#upload-result").replaceChildren(el("p", { class: "alert " + kind, role: kind === "error" ? "alert" : "status", id: "upload-summary" }, message), ...(extra || []));
  }

  const badLines = (errors) => new Set(errors.map((e) => e.line)).size;
  const warnings = (list) => (list || []).map((w) => el("p", { class: "alert warn" }, t("orders_warning", { msg: w })));

  function uploadForm() {
    const form = $("#upload");
    form.plan_date.value = "";
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const file = form.file.files[0];
      if (!file) return;
      const body = new FormData();
      body.append("file", file, file.name);
      if (form.plan_date.value) body.append("plan_date", form.plan_date.value);
      body.append("skip_bad", form.skip_bad.checked ? "true" : "false");
      const button = $("#upload-submit");
      button.disabled = true;
      showRowErrors([]);
      result("info", t("orders_importing", { name: file.name }));
      try {
        const answer = await api("/orders/upload", { method: "POST", body });
        if (answer.errors.length) {
          result("warn", t("orders_skipped_summary", { m: answer.imported, n: badLines(answer.errors) }), warnings(answer.warnings));
          showRowErrors(answer.errors);
        } else {
          result("ok", t("orders_imported", { m: answer.imported, rows: answer.rows }), warnings(answer.warnings));
        }
        await loadOrders();
      } catch (e) {
        const rows = Array.isArray(e.detail) ? e.detail.filter((d) => d.line !== undefined) : [];
        if (e.status === 422 && rows.length) {
          result("error", t("orders_errors_summary", { n: badLines(rows), e: rows.length }));
          showRowErrors(rows);
        } else {
          result("error", t("orders_file_error", { msg: e.message }));
        }
      } finally {
        button.disabled = false;
      }
    };
  }

  // ---- downloads ---------------------------------------------------------------------
  function setDownloads(planId) {
    const links = {
      "#dl-unassigned-csv": "unassigned.csv",
      "#dl-unassigned-xlsx": "unassigned.xlsx",
      "#dl-sheets-xlsx": "sheets.xlsx",
      "#dl-sheets-html": "sheets.html",
    };
    $("#download-links").hidden = !planId;
    $("#no-plan").hidden = Boolean(planId);
    for (const [sel, file] of Object.entries(links)) {
      const a = $(sel);
      if (planId) a.href = `/api/v1/plans/${planId}/${file}`;
      else a.removeAttribute("href");
    }
  }

  async function loadPlans() {
    const select = $("#plan-select");
    const { planId } = await C.planSelect(select, boot.plan_id);
    select.onchange = () => setDownloads(Number(select.value));
    setDownloads(planId);
  }

  // ---- the list ----------------------------------------------------------------------
  async function placesOf(orders) {
    const ids = new Set(orders.flatMap((o) => [o.origin, o.destination]).filter((id) => !state.places.has(id)));
    if (!ids.size) return;
    const counties = [...new Set(orders.map((o) => o.county_code).filter((c) => c && !state.countiesLoaded.has(c)))];
    await Promise.all(counties.map(async (code) => {
      state.countiesLoaded.add(code);
      const data = await api(`/places?county=${encodeURIComponent(code)}&limit=500`);
      for (const p of data.items) state.places.set(p.id, p);
    }));
    const left = [...ids].filter((id) => !state.places.has(id));
    await Promise.all(left.map(async (id) => {
      try {
        state.places.set(id, await api("/places/" + encodeURIComponent(id)));
      } catch (e) {
        state.places.set(id, { id, name_zh: id });
      }
    }));
  }

  function placeCell(id) {
    const p = state.places.get(id);
    return el("span", { class: "place", title: p ? `${p.name_zh || ""} ${p.name_pinyin || ""} (${id})` : id }, C.placeName(p || { id, name_zh: id }));
  }

  function query() {
    const form = $("#filters");
    const params = new URLSearchParams({ limit: PAGE, offset: state.offset });
    for (const name of ["plan_date", "county", "status", "direction", "party", "sort"]) {
      const field = form.elements[name];
      const value = field ? field.value.trim() : "";
      if (value) params.set(name, value);
    }
    return params;
  }

  async function loadOrders(initial) {
    const params = query();
    if (!initial) history.replaceState(null, "", "?" + params.toString());  // a reload keeps the filters
    let data;
    try {
      data = await api("/orders?" + params.toString());
    } catch (e) {
      C.flash(e.message, "error");
      return;
    }
    await placesOf(data.items);
    state.total = data.total;
    const body = $("#orders tbody");
    body.replaceChildren();
    for (const o of data.items) {
      body.append(el("tr", { class: "order-row", dataset: { orderId: o.order_id, county: o.county_code || "", status: o.status } },
        el("td", { class: "nowrap" }, el("code", {}, o.order_id)),
        el("td", {}, o.party),
        el("td", {}, el("span", { class: "badge" + (o.direction === "up" ? " up" : "") }, t("direction_" + o.direction))),
        el("td", {}, placeCell(o.origin), " → ", placeCell(o.destination), el("div", { class: "hint" }, C.countyName(o.county_code))),
        el("td", { class: "num" }, C.num(o.weight_kg, 1)),
        el("td", { class: "num" }, String(o.pieces)),
        el("td", {}, el("span", { class: "badge status-" + o.status }, t("order_" + o.status))),
        el("td", { class: "nowrap" }, o.plan_id ? "#" + o.plan_id : "–", el("div", { class: "hint" }, o.plan_date)),
      ));
    }
    $("#orders-empty").hidden = data.items.length > 0;
    $("#total").textContent = t("orders_total", { total: data.total });
    const from = data.total ? data.offset + 1 : 0;
    $("#page-info").textContent = t("orders_page", { from, to: data.offset + data.items.length, total: data.total });
    $("#prev").disabled = data.offset <= 0;
    $("#next").disabled = data.offset + data.items.length >= data.total;
    document.body.dataset.ordersQuery = params.toString();
  }

  function filters() {
    const form = $("#filters");
    const params = new URLSearchParams(location.search);
    const county = form.elements.county;
    if (county) {
      for (const c of boot.counties.filter((c) => c.served)) county.append(el("option", { value: c.code }, C.countyName(c.code)));
    }
    const defaults = () => {
      form.plan_date.value = boot.plan_date || boot.today || "";
      form.sort.value = "order_id";
    };
    defaults();
    for (const name of ["plan_date", "county", "status", "direction", "party", "sort"]) {
      const field = form.elements[name];
      if (field && params.has(name)) field.value = params.get(name);
    }
    state.offset = Math.max(0, Number(params.get("offset")) || 0);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      state.offset = 0;
      loadOrders();
    };
    form.onreset = () => setTimeout(() => {
      defaults();
      state.offset = 0;
      loadOrders();
    });
    $("#prev").onclick = () => {
      state.offset = Math.max(0, state.offset - PAGE);
      loadOrders();
    };
    $("#next").onclick = () => {
      state.offset += PAGE;
      loadOrders();
    };
  }

  async function start() {
    uploadForm();
    filters();
    try {
      await loadPlans();
    } catch (e) {
      C.flash(e.message, "error");
    }
    await loadOrders(true);
    document.body.dataset.ordersReady = "1";
  }

  start();
})();
