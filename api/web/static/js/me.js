/* A courier's own page: their route sheets with the printable page of each. */
"use strict";
(async function () {
  const list = document.getElementById("my-sheets");
  if (!list) return;
  try {
    const data = await C.api("/route-sheets?limit=50");
    list.replaceChildren();
    for (const s of data.items || []) {
      list.append(C.el("li", {}, C.el("strong", {}, s.route_id), " · ", s.plan_date || "", " · ",
        C.t("status_" + s.status), " · ",
        C.el("a", { href: "/api/v1/route-sheets/" + s.id + "/html", target: "_blank" }, C.t("me_print"))));
    }
    if (!list.children.length) list.append(C.el("li", { class: "muted" }, list.dataset.empty));
  } catch (e) {
    list.replaceChildren(C.el("li", { class: "alert error" }, e.message));
  }
})();
