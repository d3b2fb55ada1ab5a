/* The account's own page (every role): the profile (GET/PATCH /api/v1/me), the password
   (POST /me/password: the page's route, which keeps this session signed in with a token
   of the new version), the TOTP second factor (POST /api/v1/me/totp, .../confirm,
   .../disable; the QR code is drawn by the server at /me/totp.svg) and, for couriers,
   their route sheets. An account an admin reset sees only the password form and goes
   home once it is changed. The API decides what is allowed; this shows its answers. */
"use strict";

(function () {
  const { t, api, el, boot } = C;
  const $ = (sel) => document.querySelector(sel);
  const mustChange = Boolean(boot.must_change_password);
  let me = null;

  // ---- the password (every account, and the only thing a reset account may do) --------
  async function postPassword(body) {
    const r = await fetch("/me/password", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRF-Token": C.cookie("codist_csrf"),
      },
      body: JSON.stringify(body),
    });
    if (r.status === 401) {
      location.href = "/login?next=" + encodeURIComponent("/me");
      throw new C.ApiError(401, "signed out");
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new C.ApiError(r.status, data && data.detail !== undefined ? data.detail : data);
    return data;
  }

  async function changePassword(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const v = F.values(form);
    F.clear(form);
    if (!v.current_password) return F.mark(form, "current_password", t("me_required"));
    if (!v.new_password) return F.mark(form, "new_password", t("me_required"));
    if (v.new_password !== v.repeat_password) return F.mark(form, "repeat_password", t("me_repeat_differs"));
    const button = $("#password-save");
    button.disabled = true;
    try {
      const done = await postPassword({ current_password: v.current_password, new_password: v.new_password });
      form.reset();
      if (mustChange) {
        C.flash(t("me_password_changed_going"), "ok");
        location.href = done.home || boot.home || "/";
        return;
      }
      C.flash(t("me_password_changed_ok"), "ok");
      await loadMe();
    } catch (e) {
      F.refused(form, e, t("me_password_refused"));
    } finally {
      button.disabled = false;
    }
  }

  // ---- the profile ---------------------------------------------------------------------
  async function loadMe() {
    me = await api("/me");
    const form = $("#profile");
    if (form) {
      form.elements.display_name.value = me.display_name || "";
      form.elements.phone.value = me.phone || "";
    }
    const changed = $("#password-changed-at");
    if (changed) changed.textContent = F.moment(me.password_changed_at);
    showTotp();
  }

  async function saveProfile(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const v = F.values(form);
    F.clear(form);
    const button = $("#profile-save");
    button.disabled = true;
    try {
      me = await api("/me", { method: "PATCH", body: { display_name: v.display_name, phone: v.phone || null } });
      C.flash(t("me_profile_saved"), "ok");
    } catch (e) {
      F.refused(form, e);
    } finally {
      button.disabled = false;
    }
  }

  // ---- the second factor ---------------------------------------------------------------
  function showTotp(setup) {
    if (!$("#totp-card") || !me) return;
    const on = Boolean(me.totp_enabled);
    const state = $("#totp-state");
    state.textContent = on ? t("me_totp_on") : t("me_totp_off");
    state.className = "badge " + (on ? "ok" : "");
    $("#totp-off").hidden = on || Boolean(setup);
    $("#totp-setup").hidden = on || !setup;
    $("#totp-disable").hidden = !on;
    if ($("#totp-admin")) $("#totp-admin").hidden = on;
    if (setup) {
      $("#totp-secret").textContent = setup.secret.match(/.{1,4}/g).join(" ");
      $("#totp-qr").src = "/me/totp.svg?t=" + Date.now();
      $("#totp-confirm").elements.code.focus();
    }
  }

  async function startTotp() {
    $("#totp-start").disabled = true;
    try {
      const setup = await api("/me/totp", { method: "POST" });
      F.clear($("#totp-confirm"));
      showTotp(setup);
    } catch (e) {
      C.flash(e.message, "error");
    } finally {
      $("#totp-start").disabled = false;
    }
  }

  async function totpCode(ev, path, message) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const code = F.values(form).code;
    F.clear(form);
    if (!code) return F.mark(form, "code", t("me_required"));
    try {
      me = await api(path, { method: "POST", body: { code } });
      form.reset();
      C.flash(t(message), "ok");
      showTotp();
    } catch (e) {
      F.refused(form, e);
    }
  }

  // ---- a courier's route sheets --------------------------------------------------------
  async function sheets() {
    const list = $("#my-sheets");
    if (!list) return;
    try {
      const data = await api("/route-sheets?limit=50");
      list.replaceChildren();
      for (const s of data.items || []) {
        list.append(el("li", {}, el("strong", {}, s.route_id), " · ", s.plan_date || "", " · ",
          t("status_" + s.status), " · ",
          el("a", { href: "/api/v1/route-sheets/" + s.id + "/html", target: "_blank" }, t("me_print"))));
      }
      if (!list.children.length) list.append(el("li", { class: "muted" }, list.dataset.empty));
    } catch (e) {
      list.replaceChildren(el("li", { class: "alert error" }, e.message));
    }
  }

  async function start() {
    $("#password").addEventListener("submit", changePassword);
    if (!mustChange) {
      $("#profile").addEventListener("submit", saveProfile);
      $("#totp-start").addEventListener("click", startTotp);
      $("#totp-cancel").addEventListener("click", () => showTotp());
      $("#totp-confirm").addEventListener("submit", (ev) => totpCode(ev, "/me/totp/confirm", "me_totp_enabled"));
      $("#totp-disable").addEventListener("submit", (ev) => totpCode(ev, "/me/totp/disable", "me_totp_disabled"));
      try {
        await Promise.all([loadMe(), sheets()]);
      } catch (e) {
        C.flash(e.message, "error");
      }
    }
    document.body.dataset.meReady = "1";
  }

  start();
})();
