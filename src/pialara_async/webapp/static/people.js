// PIA Lara's people: an administrator's users, a technician's clients. Lists
// follow the live feed ("users", "clients") and change in place.
import { call, query } from "/app/api.js";
import {
  choice, clearErrors, dateOnly, element, field, formStatus, formValues, pager, refusalText,
  showErrors,
} from "/app/dom.js";

const ROLES = ["admin", "technician", "client"];
const SEXES = ["female", "male", "other"];
const PAGE_SIZE = 20;

// A client's profile as form fields, named by their path in the API's body.
export function profileFields(t, profile = {}) {
  profile = profile || {};
  return [
    choice("profile.sex", t("sex"), [["", t("unknown")], ...SEXES.map((s) => [s, t(s)])], profile.sex),
    field("profile.birth_date", t("birthDate"), { type: "date", value: dateOnly(profile.birth_date) }),
    field("profile.pathology", t("pathology"), { value: profile.pathology || "", maxlength: "500" }),
  ];
}

export function profileBody(values) {
  return {
    sex: values["profile.sex"] || null,
    birth_date: values["profile.birth_date"] || null,
    pathology: values["profile.pathology"] || null,
  };
}

// Calls ``refresh`` once for a burst of events (a transaction writes several).
function debounced(refresh, milliseconds = 100) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, milliseconds);
  };
}

function table(t, headings, rows) {
  return element("table", {},
    element("thead", {}, element("tr", {}, headings.map((h) => element("th", { scope: "col" },
      h === "actions" ? element("span", { class: "visually-hidden" }, t(h)) : t(h))))),
    element("tbody", {}, rows));
}

// A list's title with the link that adds to it.
function listHeading(title, newHref, newLabel) {
  return element("div", { class: "heading" },
    element("h1", {}, title), element("a", { href: newHref, class: "button" }, newLabel));
}

function cell(label, ...content) {
  return element("td", { "data-label": label }, ...content);
}

// --- administrator --------------------------------------------------------------------

export async function userList(app, params, search) {
  const { t } = app;
  const role = ROLES.includes(search.get("role")) ? search.get("role") : "";
  const q = search.get("q") || "";
  const page = Math.max(0, parseInt(search.get("page"), 10) || 0);
  const hrefFor = (n) => `#/users${query({ q, role, page: n || "" })}`;

  const filters = element("form", { role: "search", class: "filters" },
    field("q", t("search"), { type: "search", value: q }),
    choice("role", t("role"), [["", t("anyRole")], ...ROLES.map((r) => [r, t(r)])], role),
    element("button", { type: "submit" }, t("search")));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formValues(filters);
    app.go(`#/users${query({ q: values.q.trim(), role: values.role })}`);
  });

  const results = element("div", { id: "user-results" });
  let confirming = null; // the row whose delete is being confirmed or was refused: kept across refreshes

  function actions(user) {
    const box = element("td", { class: "actions", "data-label": "" });
    const plain = () => box.replaceChildren(
      element("a", { href: `#/users/${user._id}` }, t("edit")),
      element("button", { type: "button", class: "danger", onclick: ask }, t("delete")));
    const ask = () => {
      confirming = { id: user._id, box };
      box.replaceChildren(
        element("span", { role: "alert" }, t("confirmDelete", { name: user.name })),
        element("button", { type: "button", class: "danger", onclick: remove }, t("yesDelete")),
        element("button", { type: "button", class: "link", onclick: () => { confirming = null; plain(); } },
          t("cancel")));
      box.querySelector("button").focus();
    };
    const remove = async () => {
      try {
        await call("DELETE", `/users/${user._id}`);
        confirming = null;
        app.announce(t("deleted", { name: user.name }));
        refresh();
      } catch (error) {
        box.replaceChildren(
          element("p", { class: "form-error", role: "alert" }, refusalText(error, t)),
          element("button", { type: "button", class: "link", onclick: () => { confirming = null; plain(); } },
            t("cancel")));
      }
    };
    plain();
    return box;
  }

  async function refresh() {
    const [listed, technicians] = await Promise.all([
      call("GET", `/users${query({ q, role, page: page || "" })}`),
      call("GET", "/users/technicians"),
    ]);
    const names = new Map(technicians.users.map((u) => [u._id, u.name]));
    const rows = listed.users.map((user) => element("tr", { id: `user-${user._id}` },
      cell(t("name"), user.name),
      cell(t("email"), user.email),
      cell(t("role"), t(user.role || "none")),
      cell(t("technician"), user.role === "client" ? names.get(user.technician_id) ?? "" : ""),
      confirming?.id === user._id ? confirming.box : actions(user)));
    results.replaceChildren(
      rows.length ? table(t, ["name", "email", "role", "technician", "actions"], rows)
        : element("p", {}, t("noResults")),
      pager(t, page, listed.total_results, PAGE_SIZE, hrefFor));
  }

  await app.follow("users", debounced(() => refresh().catch(app.failed)));
  await refresh();
  return element("section", {}, listHeading(t("users"), "#/users/new", t("newUser")),
    filters, results);
}

function userForm(app, { user, heading, technicians, admin }) {
  const { t } = app;
  const creating = !user;
  user = user || { role: admin ? "" : "client", profile: {} };
  const technicianOptions = [["", t("choose")], ...technicians.map((u) => [u._id, `${u.name} (${u.email})`])];
  const form = element("form", { novalidate: true },
    element("h1", {}, heading),
    field("name", t("name"), { value: user.name || "", required: true, autocomplete: "off" }),
    creating || admin
      ? field("email", t("email"), { type: "email", value: user.email || "", required: true, autocomplete: "off" })
      : element("dl", {}, element("dt", {}, t("email")), element("dd", {}, user.email)),
    creating ? field("password", t("password"), { type: "password", autocomplete: "new-password", required: true })
      : null,
    admin ? choice("role", t("role"), [["", t("choose")], ...ROLES.map((r) => [r, t(r)])], user.role,
      { required: true }) : null,
    admin ? choice("technician_id", t("technician"), technicianOptions, user.technician_id) : null,
    element("fieldset", { class: "client-only" },
      element("legend", {}, t("clientProfile")), profileFields(t, user.profile)),
    formStatus(),
    element("div", { class: "buttons" },
      element("button", { type: "submit" }, t("save")),
      element("a", { href: admin ? "#/users" : "#/clients" }, t("back"))));

  // Technician and profile belong to clients only.
  const clientOnly = () => {
    const isClient = !admin || form.elements.role.value === "client";
    form.querySelector(".client-only").hidden = !isClient;
    const technician = form.querySelector('[data-field="technician_id"]');
    if (technician) technician.hidden = !isClient;
    return isClient;
  };
  form.elements.role?.addEventListener("change", clientOnly);
  clientOnly();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = { name: values.name };
    if (creating || admin) body.email = values.email;
    if (creating) body.password = values.password;
    if (admin) body.role = values.role || undefined;
    if (clientOnly()) {
      body.profile = profileBody(values);
      if (admin && values.technician_id) body.technician_id = values.technician_id;
    }
    if (!admin && creating) body.role = "client";
    try {
      if (creating) await call("POST", "/users", body);
      else await call("PATCH", `/users/${user._id}`, body);
      clearErrors(form);
      app.announce(t(creating ? "created" : "saved"));
      app.go(admin ? "#/users" : "#/clients");
    } catch (error) { showErrors(form, error, t); }
  });
  return form;
}

export async function newUser(app) {
  const { users } = await call("GET", "/users/technicians");
  return userForm(app, { heading: app.t("newUser"), technicians: users, admin: true });
}

export async function editUser(app, [id]) {
  const [{ user }, { users }] = await Promise.all([
    call("GET", `/users/${id}`), call("GET", "/users/technicians")]);
  return userForm(app, { user, heading: app.t("editUser"), technicians: users, admin: true });
}

// --- technician -----------------------------------------------------------------------

export async function clientList(app) {
  const { t } = app;
  const results = element("div", { id: "client-results" });
  async function refresh() {
    const { clients } = await call("GET", "/users/me/clients");
    const rows = clients.map((c) => element("tr", { id: `client-${c._id}` },
      cell(t("name"), c.name),
      cell(t("sex"), c.sex ? t(c.sex) : t("unknown")),
      cell(t("age"), c.age ?? t("unknown")),
      cell(t("pathology"), c.pathology || t("unknown")),
      element("td", { class: "actions", "data-label": "" },
        element("a", { href: `#/clients/${c._id}` }, t("edit")))));
    results.replaceChildren(rows.length
      ? table(t, ["name", "sex", "age", "pathology", "actions"], rows)
      : element("p", {}, t("noResults")));
  }
  await app.follow("clients", debounced(() => refresh().catch(app.failed)));
  await refresh();
  return element("section", {}, listHeading(t("myClients"), "#/clients/new", t("newClient")),
    results);
}

export function newClient(app) {
  return userForm(app, { heading: app.t("newClient"), technicians: [], admin: false });
}

export async function editClient(app, [id]) {
  const { user } = await call("GET", `/users/${id}`);
  return userForm(app, { user, heading: app.t("editClient"), technicians: [], admin: false });
}
