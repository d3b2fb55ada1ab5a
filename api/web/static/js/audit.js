/* The audit log (admins): who changed what, when, newest first (GET /api/v1/audit),
   filtered by action, kind of thing, its id, who, and dates in Beijing time; each row's
   changed fields as before -> after. The filters are kept in the address, so a link
   (e.g. from an account's row on /console/users) opens a filtered log. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const LIMIT = 50;
  const state = { offset: 0, total: 0, users: new Map(), orgs: new Map() };

  /** A translated word, or the raw one where none is known (a new action, a field). */
  function word(prefix, key) {
    const k = prefix + key;
    const s = t(k);
    return s === k ? key : s;
  }

  function value(field, v) {
    if (v === null || v === undefined || v === "") return "–";
    if (typeof v === "boolean") return v ? t("audit_yes") : t("audit_no");
    if (field === "role") return word("role_", v);
    if (field === "county_code" || field === "county") return C.countyName(v);
    if (field === "org_id" && state.orgs.has(v)) return state.orgs.get(v).name;
    if (field === "status") return word("status_", v);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  /** The changed fields, one line each: "field: before → after" (a creation: the values). */
  function changes(row) {
    const before = row.before || {};
    const after = row.after || {};
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const lines = [];
    for (const k of keys) {
      const had = k in before;
      const has = k in after;
      if (!had && has && (after[k] === null || after[k] === "")) continue; // empty at creation
      lines.push(el("li", { dataset: { field: k } },
        el("span", { class: "fname" }, word("field_", k)), " ",
        had ? el("del", {}, value(k, before[k])) : null,
        had && has ? el("span", { class: "arrow", "aria-label": t("audit_to_value") }, " → ") : null,
        has ? el("ins", {}, value(k, after[k])) : null,
      ));
    }
    return lines.length ? el("ul", { class: "changes" }, lines) : el("span", { class: "hint" }, "–");
  }

  function entity(row) {
    const name = row.entity === "user" && state.users.has(Number(row.entity_id)) ? state.users.get(Number(row.entity_id)).username + " " : "";
    const label = word("entity_", row.entity) + " " + name + "#" + row.entity_id;
    return el("button", {
      type: "button", class: "link entity", title: t("audit_only_this"),
      onclick: () => {
        $("#f-entity").value = row.entity;
        $("#f-entity-id").value = row.entity_id;
        search();
      },
    }, label);
  }

  // ---- filters -------------------------------------------------------------------------
  function nextDay(day) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  function filters() {
    const f = {
      action: $("#f-action").value, entity: $("#f-entity").value, entity_id: $("#f-entity-id").value.trim(),
      actor_id: $("#f-actor").value, from: $("#f-from").value, to: $("#f-to").value,
    };
    return Object.fromEntries(Object.entries(f).filter(([, v]) => v));
  }

  function query() {
    const f = filters();
    const q = new URLSearchParams({ limit: String(LIMIT), offset: String(state.offset) });
    for (const k of ["action", "entity", "entity_id", "actor_id"]) if (f[k]) q.set(k, f[k]);
    // whole days in Beijing time: from 00:00 of the first to 00:00 after the last
    if (f.from) q.set("since", f.from + "T00:00:00+08:00");
    if (f.to) q.set("until", nextDay(f.to) + "T00:00:00+08:00");
    return q;
  }

  function search(keepOffset) {
    if (!keepOffset) state.offset = 0;
    const address = new URLSearchParams(filters());
    if (state.offset) address.set("offset", String(state.offset));
    history.replaceState(null, "", location.pathname + (address.toString() ? "?" + address : ""));
    return load();
  }

  // ---- the log -------------------------------------------------------------------------
  async function load() {
    const body = $("#audit tbody");
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api("/audit?" + query());
      state.total = data.total;
      render(data.items);
    } catch (e) {
      C.flash(e.message, "error");
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  function render(items) {
    const body = $("#audit tbody");
    const cell = (label, attrs, ...content) => el("td", { "data-label": label, ...attrs }, el("div", { class: "cell" }, ...content));
    body.replaceChildren();
    for (const row of items) {
      body.append(el("tr", { dataset: { id: row.id, action: row.action, entity: row.entity, entityId: row.entity_id } },
        cell(t("audit_at"), { class: "nowrap" }, el("time", { datetime: row.at, title: row.at }, F.moment(row.at))),
        cell(t("audit_actor"), {}, row.actor ? el("strong", {}, row.actor) : el("span", { class: "hint" }, t("audit_system"))),
        cell(t("audit_action"), {}, el("span", { class: "badge action" }, word("action_", row.action)), el("div", { class: "hint code" }, row.action)),
        cell(t("audit_object"), {}, entity(row)),
        cell(t("audit_changes"), { class: "changes-cell" }, changes(row)),
        cell(t("audit_origin"), { class: "hint origin" }, row.client || "–", row.request_id ? el("div", { class: "code", title: row.request_id }, row.request_id.slice(0, 12)) : null),
      ));
    }
    $("#no-rows").hidden = items.length > 0;
    const last = Math.min(state.offset + items.length, state.total);
    $("#audit-count").textContent = t("audit_count", { n: state.total });
    $("#page-info").textContent = state.total ? t("audit_page", { from: state.offset + 1, to: last, n: state.total }) : "";
    $("#prev").disabled = state.offset === 0;
    $("#next").disabled = last >= state.total;
  }

  // ---- start ---------------------------------------------------------------------------
  async function choices() {
    for (const a of boot.actions || []) $("#f-action").append(el("option", { value: a }, word("action_", a)));
    for (const e of boot.entities || []) $("#f-entity").append(el("option", { value: e }, word("entity_", e)));
    const [users, orgs] = await Promise.all([api("/users?limit=500&sort=username"), api("/organisations?limit=500")]);
    state.users = new Map(users.items.map((u) => [u.id, u]));
    state.orgs = new Map(orgs.items.map((o) => [o.id, o]));
    for (const u of users.items) {
      $("#f-actor").append(el("option", { value: u.id }, u.username + (u.display_name ? " · " + u.display_name : "")));
    }
  }

  async function start() {
    try {
      await choices();
    } catch (e) {
      C.flash(e.message, "error");
    }
    const params = new URLSearchParams(location.search);
    const ids = { action: "#f-action", entity: "#f-entity", entity_id: "#f-entity-id", actor_id: "#f-actor", from: "#f-from", to: "#f-to" };
    for (const [k, sel] of Object.entries(ids)) if (params.get(k)) $(sel).value = params.get(k);
    state.offset = Math.max(0, Number(params.get("offset")) || 0);
    $("#filters").onsubmit = (ev) => {
      ev.preventDefault();
      search();
    };
    for (const sel of ["#f-action", "#f-entity", "#f-actor"]) $(sel).onchange = () => search();
    $("#f-clear").onclick = () => {
      $("#filters").reset();
      search();
    };
    $("#prev").onclick = () => { state.offset = Math.max(0, state.offset - LIMIT); search(true); };
    $("#next").onclick = () => { state.offset += LIMIT; search(true); };
    await load();
    document.body.dataset.auditReady = "1";
  }

  start();
})();
