/* Accounts (admins): the list with filters and paging (GET /api/v1/users), create
   (POST /users), edit name, phone, role, county, organisation (PATCH /users/{id}),
   deactivate and reactivate (POST .../deactivate, .../reactivate, after a confirm),
   reset a password (POST .../password-reset: the generated temporary password is shown
   once, with a copy button) and lift a sign-in lockout (POST .../unlock). Every rule
   (who may be what, the password policy, the last admin) is the API's: its refusal is
   shown next to the field it names. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const LIMIT = 50;
  const state = { offset: 0, total: 0, items: [], orgs: new Map(), editing: null };
  const params = new URLSearchParams(location.search);

  const county = (code) => (code ? C.countyName(code) : "–");
  const orgName = (id) => (id === null || id === undefined ? "–" : (state.orgs.get(id) || { name: "#" + id }).name);
  const who = (u) => (u.display_name ? t("users_who", { display: u.display_name, username: u.username }) : u.username);

  // ---- choices of the forms ------------------------------------------------------------
  function fillChoices() {
    for (const select of document.querySelectorAll("select.roles, #f-role")) {
      if (select.closest("#create")) select.append(el("option", { value: "" }, t("users_choose")));
      for (const r of boot.roles || []) select.append(el("option", { value: r }, t("role_" + r)));
    }
    for (const select of document.querySelectorAll("select.counties")) {
      select.append(el("option", { value: "" }, t("users_no_county")));
      for (const c of boot.counties.filter((x) => x.served)) select.append(el("option", { value: c.code }, C.countyName(c.code)));
    }
    const orgs = [...state.orgs.values()].sort((a, b) => a.name.localeCompare(b.name, "zh-CN"));
    for (const select of document.querySelectorAll("select.orgs")) {
      select.replaceChildren(el("option", { value: "" }, t("users_no_org")));
      for (const o of orgs) select.append(el("option", { value: o.id }, o.name + " · " + t("org_" + o.kind)));
    }
  }

  async function loadOrgs() {
    const data = await api("/organisations?limit=500&sort=name");
    state.orgs = new Map(data.items.map((o) => [o.id, o]));
  }

  // ---- the list ------------------------------------------------------------------------
  function query() {
    const q = new URLSearchParams({ limit: String(LIMIT), offset: String(state.offset), sort: "username" });
    if ($("#f-role").value) q.set("role", $("#f-role").value);
    if ($("#f-active").value) q.set("active", $("#f-active").value);
    return q;
  }

  async function load() {
    const body = $("#users tbody");
    body.setAttribute("aria-busy", "true");
    try {
      const data = await api("/users?" + query());
      state.items = data.items;
      state.total = data.total;
      render();
    } catch (e) {
      C.flash(e.message, "error");
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  function status(u) {
    const out = [u.active ? el("span", { class: "badge ok" }, t("users_active")) : el("span", { class: "badge bad" }, t("users_inactive"))];
    if (u.locked_for_s) out.push(el("span", { class: "badge bad locked" }, t("users_locked", { min: Math.max(1, Math.ceil(u.locked_for_s / 60)) })));
    if (u.must_change_password) out.push(el("span", { class: "badge up" }, t("users_must_change")));
    return out;
  }

  function actions(u) {
    const b = (act, label, cls) => el("button", { type: "button", class: cls || "", dataset: { act }, onclick: () => ACTS[act](u) }, label);
    return el("div", { class: "row-actions" },
      b("edit", t("users_edit")),
      b("reset", t("users_reset")),
      u.active ? b("deactivate", t("users_deactivate"), "danger-outline") : b("reactivate", t("users_reactivate")),
      u.locked_for_s ? b("unlock", t("users_unlock"), "primary") : null,
      el("a", { class: "button", href: `/console/audit?entity=user&entity_id=${u.id}` }, t("users_history")),
    );
  }

  function render() {
    const body = $("#users tbody");
    body.replaceChildren();
    const cell = (label, ...content) => el("td", { "data-label": label }, el("div", { class: "cell" }, ...content));
    for (const u of state.items) {
      body.append(el("tr", { dataset: { user: u.username, id: u.id }, class: u.active ? "" : "inactive" },
        cell(t("users_username"), el("strong", {}, u.username), el("span", { class: "hint" }, " #" + u.id)),
        cell(t("users_display_name"), u.display_name || "–", u.phone ? el("div", { class: "hint" }, u.phone) : null),
        cell(t("users_role"), t("role_" + u.role)),
        cell(t("users_county"), county(u.county_code)),
        cell(t("users_org"), orgName(u.org_id)),
        cell(t("users_status"), el("span", { class: "badges" }, status(u))),
        cell(t("users_totp"), u.totp_enabled ? el("span", { class: "badge ok" }, t("users_totp_on")) : el("span", { class: "hint" }, t("users_totp_off"))),
        cell(t("users_password_changed"), el("span", { class: "nowrap" }, F.moment(u.password_changed_at))),
        cell(t("users_actions"), actions(u)),
      ));
    }
    $("#no-users").hidden = state.items.length > 0;
    const last = Math.min(state.offset + state.items.length, state.total);
    $("#users-count").textContent = t("users_count", { n: state.total });
    $("#page-info").textContent = state.total ? t("users_page", { from: state.offset + 1, to: last, n: state.total }) : "";
    $("#prev").disabled = state.offset === 0;
    $("#next").disabled = last >= state.total;
  }

  // ---- create and edit -----------------------------------------------------------------
  const orNull = (v) => (v === "" ? null : v);

  async function create(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const v = F.values(form);
    F.clear(form);
    const body = {
      username: v.username, password: v.password, role: v.role, display_name: v.display_name,
      phone: orNull(v.phone), county_code: orNull(v.county_code), org_id: v.org_id ? Number(v.org_id) : null,
    };
    try {
      const made = await api("/users", { method: "POST", body });
      form.reset();
      showCreate(false);
      C.flash(t("users_created", { name: made.username }), "ok");
      await load();
    } catch (e) {
      F.refused(form, e);
    }
  }

  function showCreate(open) {
    $("#create-card").hidden = !open;
    $("#new-user").setAttribute("aria-expanded", String(open));
    if (open) {
      showEdit(null);
      F.clear($("#create"));
      $("#create").elements.username.focus();
    }
  }

  function showEdit(u) {
    state.editing = u;
    $("#edit-card").hidden = !u;
    if (!u) return;
    showCreate(false);
    const form = $("#edit");
    F.clear(form);
    $("#edit-who").textContent = u.username;
    form.elements.display_name.value = u.display_name || "";
    form.elements.phone.value = u.phone || "";
    form.elements.role.value = u.role;
    form.elements.county_code.value = u.county_code || "";
    form.elements.org_id.value = u.org_id === null || u.org_id === undefined ? "" : String(u.org_id);
    $("#edit-card").scrollIntoView({ block: "nearest" });
    form.elements.display_name.focus();
  }

  async function save(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const u = state.editing;
    if (!u) return;
    const v = F.values(form);
    F.clear(form);
    const now = {
      display_name: v.display_name, phone: orNull(v.phone), role: v.role,
      county_code: orNull(v.county_code), org_id: v.org_id ? Number(v.org_id) : null,
    };
    const was = { display_name: u.display_name || "", phone: u.phone || null, role: u.role, county_code: u.county_code || null, org_id: u.org_id ?? null };
    const changes = Object.fromEntries(Object.entries(now).filter(([k, x]) => x !== was[k]));
    if (!Object.keys(changes).length) {
      F.mark(form, null, t("users_nothing_changed"));
      return;
    }
    try {
      const saved = await api("/users/" + u.id, { method: "PATCH", body: changes });
      showEdit(null);
      C.flash(t("users_saved", { name: saved.username }), "ok");
      await load();
    } catch (e) {
      F.refused(form, e);
    }
  }

  // ---- the row's actions ---------------------------------------------------------------
  async function act(u, path, message, body) {
    try {
      const out = await api(`/users/${u.id}/${path}`, { method: "POST", body });
      C.flash(t(message, { name: u.username }), "ok");
      await load();
      return out;
    } catch (e) {
      C.flash(t("users_refused", { name: u.username }) + " " + e.message, "error");
      return null;
    }
  }

  function showTemporary(u, password) {
    const dialog = $("#temporary");
    $("#temporary-for").textContent = t("users_temporary_for", { name: who(u) });
    $("#temporary-password").textContent = password;
    $("#copied").textContent = "";
    dialog.showModal();
  }

  const ACTS = {
    edit: (u) => showEdit(u),
    async reset(u) {
      const clearBox = el("input", { type: "checkbox", name: "clear_totp" });
      const extra = [el("p", { class: "hint" }, t("users_reset_explain"))];
      if (u.totp_enabled) extra.push(el("label", { class: "row" }, clearBox, t("users_reset_clear_totp")));
      if (!(await F.confirm(t("users_reset_q", { name: who(u) }), { ok: t("users_reset"), extra }))) return;
      const out = await act(u, "password-reset", "users_reset_done", { clear_totp: clearBox.checked });
      if (out && out.temporary_password) showTemporary(u, out.temporary_password);
    },
    async deactivate(u) {
      const q = t("users_deactivate_q", { name: who(u) });
      if (await F.confirm(q, { ok: t("users_deactivate"), danger: true })) await act(u, "deactivate", "users_deactivated");
    },
    async reactivate(u) {
      if (await F.confirm(t("users_reactivate_q", { name: who(u) }), { ok: t("users_reactivate") })) await act(u, "reactivate", "users_reactivated");
    },
    unlock: (u) => act(u, "unlock", "users_unlocked"),
  };

  // ---- start ---------------------------------------------------------------------------
  async function start() {
    try {
      await loadOrgs();
    } catch (e) {
      C.flash(e.message, "error");
    }
    fillChoices();
    if (params.get("role")) $("#f-role").value = params.get("role");
    if (params.get("active")) $("#f-active").value = params.get("active");
    const refilter = () => {
      state.offset = 0;
      const q = new URLSearchParams();
      if ($("#f-role").value) q.set("role", $("#f-role").value);
      if ($("#f-active").value) q.set("active", $("#f-active").value);
      history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
      load();
    };
    $("#f-role").onchange = refilter;
    $("#f-active").onchange = refilter;
    $("#filters").onsubmit = (ev) => ev.preventDefault();
    $("#new-user").onclick = () => showCreate($("#create-card").hidden);
    $("#create").addEventListener("submit", create);
    $("#create .cancel").onclick = () => showCreate(false);
    $("#edit").addEventListener("submit", save);
    $("#edit .cancel").onclick = () => showEdit(null);
    $("#prev").onclick = () => { state.offset = Math.max(0, state.offset - LIMIT); load(); };
    $("#next").onclick = () => { state.offset += LIMIT; load(); };
    $("#copy-password").onclick = async () => {
      const ok = await F.copy($("#temporary-password").textContent, $("#temporary-password"));
      $("#copied").textContent = ok ? t("users_copied") : t("users_copy_by_hand");
    };
    $("#temporary").addEventListener("close", () => ($("#temporary-password").textContent = ""));
    $("#temporary-close").onclick = () => $("#temporary").close();
    await load();
    document.body.dataset.usersReady = "1";
  }

  start();
})();
