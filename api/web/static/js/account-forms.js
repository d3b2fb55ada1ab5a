/* What the account pages (/me, /console/users) share: a form's values, the API's refusal
   shown next to the field it names (a 422's detail) or under the form, and a confirm
   dialog. Nothing here decides anything: the API's answer is shown as it comes. */
"use strict";

(function () {
  const { el } = C;

  /** The form's named, enabled fields as {name: trimmed text} (passwords untrimmed). */
  function values(form) {
    const out = {};
    for (const f of form.elements) {
      if (!f.name || f.disabled || f.type === "submit" || f.type === "button") continue;
      if (f.type === "checkbox") out[f.name] = f.checked;
      else out[f.name] = f.type === "password" ? f.value : f.value.trim();
    }
    return out;
  }

  function clear(form) {
    form.querySelectorAll(".field-error, .form-error").forEach((n) => {
      n.textContent = "";
      n.hidden = true;
    });
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  }

  /** Put a message next to field ``name`` (or under the form); true if a field took it. */
  function mark(form, name, message) {
    const box = name ? form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`) : null;
    const target = box || form.querySelector(".form-error");
    if (!target) return false;
    if (!box && name) message = name + ": " + message;
    target.textContent = target.textContent ? target.textContent + "; " + message : message;
    target.hidden = false;
    target.setAttribute("role", "alert");
    if (box && form.elements[name]) form.elements[name].setAttribute("aria-invalid", "true");
    return Boolean(box);
  }

  /** Show an ApiError: each 422 item beside the field its ``loc`` ends with. */
  function refused(form, error, prefix) {
    clear(form);
    const items = Array.isArray(error.detail) ? error.detail : null;
    if (!items) {
      mark(form, null, (prefix ? prefix + " " : "") + error.message);
      return;
    }
    let first = null;
    for (const d of items) {
      const loc = (d.loc || []).filter((x) => x !== "body" && x !== "query");
      const name = loc.length ? String(loc[loc.length - 1]) : null;
      if (mark(form, name, d.msg) && !first) first = form.elements[name];
    }
    if (first && first.focus) first.focus();
  }

  /** A modal question; resolves true when confirmed. ``extra``: nodes shown under it. */
  function confirm(message, { ok, danger = false, extra = [] } = {}) {
    return new Promise((resolve) => {
      const dialog = el("dialog", { class: "confirm", "aria-label": message });
      const yes = el("button", { type: "button", class: danger ? "danger" : "primary", "data-confirm": "yes" }, ok || C.t("confirm"));
      const no = el("button", { type: "button", "data-confirm": "no" }, C.t("cancel"));
      dialog.append(el("p", { class: "msg" }, message), ...extra, el("div", { class: "buttons" }, no, yes));
      const done = (answer) => {
        dialog.close();
        dialog.remove();
        resolve(answer);
      };
      yes.onclick = () => done(true);
      no.onclick = () => done(false);
      dialog.addEventListener("cancel", (ev) => {
        ev.preventDefault();
        done(false);
      });
      document.body.append(dialog);
      dialog.showModal();
      no.focus();
    });
  }

  /** Copy text to the clipboard; where the browser refuses, select it for Ctrl+C. */
  async function copy(text, node) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      if (node) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      }
      return false;
    }
  }

  /** A time with its date in Asia/Shanghai, "2026-12-03 14:05:22" (null: "–"). */
  const full = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  const moment = (iso) => (iso ? full.format(new Date(iso)) : "–");

  window.F = { values, clear, mark, refused, confirm, copy, moment };
})();
