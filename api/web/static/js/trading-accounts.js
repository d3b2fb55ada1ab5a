/* Accounts and statements (结算与对账): an organisation's ledger entries of a month by
   service date (GET /accounts/{id}/statement?format=json: the same rows and totals as the
   CSV and XLSX downloads), what it owes and is owed per plan, freight booking and lease,
   and a dispute with a reason (POST /ledger/entries/{id}/state). */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);

  function what(row) {
    const kind = T.has("kind_" + row.kind) ? t("kind_" + row.kind) : row.kind;
    const refs = { route_sheet: "ref_route_sheet", freight_booking: "ref_freight_booking", lease_booking: "ref_lease_booking", ledger_entry: "ref_ledger_entry" };
    const ref = row.ref_type ? (T.has(refs[row.ref_type] || "") ? t(refs[row.ref_type], { id: row.ref_id }) : `${row.ref_type} ${row.ref_id}`) : "";
    return el("div", {}, el("strong", {}, kind), ref ? " · " + ref : "", row.memo ? el("div", { class: "hint" }, row.memo) : null);
  }

  function params() {
    const [year, month] = $("#month").value.split("-");
    return { account: $("#account").value, year: Number(year), month: Number(month) };
  }

  async function load() {
    const p = params();
    if (!p.account || !p.year) return;
    const base = `/api/v1/accounts/${p.account}/statement?year=${p.year}&month=${p.month}`;
    $("#download-csv").href = base + "&format=csv";
    $("#download-xlsx").href = base + "&format=xlsx";
    const body = $("#entries tbody");
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "hint" }, t("loading"))));
    let data;
    try {
      data = await api(base + "&format=json");
    } catch (e) {
      body.replaceChildren();
      return C.flash(e.message, "error");
    }
    const tot = data.totals;
    $("#opening").textContent = C.yuan(tot.opening_fen);
    $("#owes").textContent = C.yuan(tot.debit_fen);
    $("#owed").textContent = C.yuan(tot.credit_fen);
    $("#closing").textContent = C.yuan(tot.closing_fen);
    Object.assign($("#totals").dataset, { debitFen: tot.debit_fen, creditFen: tot.credit_fen, closingFen: tot.closing_fen, openingFen: tot.opening_fen });
    const rows = data.rows.filter((r) => r.entry_id !== null);
    $("#no-entries").hidden = rows.length > 0;
    body.replaceChildren(...rows.map((r) => {
      const canDispute = r.state === "pending" || r.state === "confirmed";
      const action = canDispute ? el("button", { type: "button", class: "link dispute", onclick: (ev) => dispute(r, ev.target.closest("tr")) }, t("dispute")) : null;
      return el("tr", { dataset: { entry: r.entry_id, state: r.state } },
        el("td", { class: "nowrap" }, r.service_date, el("div", { class: "hint" }, C.dateTime(r.recorded_at))),
        el("td", {}, what(r)),
        el("td", {}, r.counterparty_name || r.counterparty),
        el("td", { class: "num owes" }, r.debit_fen ? C.yuan(r.debit_fen) : ""),
        el("td", { class: "num owed" }, r.credit_fen ? C.yuan(r.credit_fen) : ""),
        el("td", { class: "num" }, C.yuan(r.balance_fen)),
        el("td", {}, T.badge(t("es_" + r.state), { disputed: "bad", settled: "ok", confirmed: "ok", reversed: "" }[r.state])),
        el("td", {}, action));
    }));
  }

  function dispute(row, tr) {
    if (tr.nextElementSibling && tr.nextElementSibling.classList.contains("dispute-row")) return;
    const form = document.getElementById("dispute-tpl").content.firstElementChild.cloneNode(true);
    const holder = el("tr", { class: "dispute-row" }, el("td", { colspan: "8" }, form));
    form.querySelector(".cancel-dispute").onclick = () => holder.remove();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      T.clearErrors(form);
      const note = form.note.value.trim();
      if (!note) return T.showErrors(form, { detail: [{ loc: ["body", "note"], msg: t("dispute_reason_needed") }] });
      try {
        await api(`/ledger/entries/${row.entry_id}/state`, { method: "POST", body: { state: "disputed", note } });
        C.flash(t("disputed", { id: row.entry_id }), "ok");
        await load();
      } catch (e) {
        T.showErrors(form, e);
      }
    };
    tr.after(holder);
    form.note.focus();
  }

  async function start() {
    const select = $("#account");
    let accounts = boot.accounts || [];
    if (!accounts.length || (C.boot.user && C.boot.user.role === "admin")) {
      const data = await api("/accounts?limit=500");
      accounts = data.items.map((a) => ({ id: a.id, name: a.org_name || a.name }));
    }
    if (!accounts.length) {
      $("#entries").hidden = true;
      $("#no-entries").hidden = false;
      $("#no-entries").textContent = t("no_account");
      return T.ready();
    }
    select.replaceChildren(...accounts.map((a) => el("option", { value: a.id }, a.name)));
    const q = new URLSearchParams(location.search);
    if (q.get("account")) select.value = q.get("account");
    $("#month").value = q.get("month") || boot.today.slice(0, 7);
    $("#statement-form").onchange = () => load();
    $("#statement-form").onsubmit = (ev) => { ev.preventDefault(); load(); };
    await load();
    T.ready();
  }
  start().catch((e) => C.flash(e.message, "error"));
})();
