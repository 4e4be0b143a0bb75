// PIA Lara's screens: sign in and out, one's own profile, one's password.
// Static ES modules, no build step, nothing fetched from the internet.
import { ApiError, call } from "/app/api.js";
import { chooseLanguage, translator } from "/app/i18n.js";

let language = chooseLanguage();
let t = translator(language);
const view = document.getElementById("view");
const nav = document.getElementById("nav");

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function field(name, label, attributes = {}) {
  const input = element("input", { name, id: `field-${name}`, ...attributes });
  const error = element("span", { class: "field-error", id: `error-${name}`, "aria-live": "polite" });
  input.setAttribute("aria-describedby", error.id);
  return element("label", { for: input.id }, label, input, error);
}

function showErrors(form, error) {
  form.querySelectorAll(".field-error, .form-error").forEach((node) => { node.textContent = ""; });
  const general = form.querySelector(".form-error");
  if (!(error instanceof ApiError)) { general.textContent = t("failed"); return; }
  let placed = false;
  for (const [name, message] of Object.entries(error.fields)) {
    const slot = form.querySelector(`#error-${CSS.escape(name)}`);
    if (slot) { slot.textContent = message; placed = true; }
  }
  if (!placed) general.textContent = error.message;
}

function signedIn() { return Boolean(sessionStorage.getItem("token")); }

function renderNav() {
  nav.replaceChildren();
  if (!signedIn()) return;
  nav.append(
    element("a", { href: "#/profile" }, t("profile")),
    element("a", { href: "#/password" }, t("changePassword")),
    element("button", { type: "button", class: "link", onclick: signOut }, t("signOut")),
  );
}

async function signOut() {
  try { await call("POST", "/user/logout"); } catch { /* the token may have expired */ }
  sessionStorage.removeItem("token");
  location.hash = "#/login";
}

function loginView() {
  const form = element("form", { novalidate: "" },
    element("h1", {}, t("signIn")),
    element("p", {}, t("welcome")),
    field("email", t("email"), { type: "email", autocomplete: "username", required: "" }),
    field("password", t("password"), { type: "password", autocomplete: "current-password", required: "" }),
    element("p", { class: "form-error", role: "alert" }),
    element("button", { type: "submit" }, t("signIn")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      const answer = await call("POST", "/user/login", data);
      sessionStorage.setItem("token", answer.auth_token);
      location.hash = "#/profile";
    } catch (error) { showErrors(form, error); }
  });
  return form;
}

async function profileView() {
  const { user } = await call("GET", "/users/me");
  const profile = user.profile || {};
  const form = element("form", { novalidate: "" },
    element("h1", {}, t("profile")),
    element("dl", {},
      element("dt", {}, t("email")), element("dd", { id: "profile-email" }, user.email),
      element("dt", {}, t("role")), element("dd", { id: "profile-role" }, t(user.role || "none"))),
    field("name", t("name"), { value: user.name, required: "", autocomplete: "name" }),
    user.role === "client" ? field("birth_date", t("birthDate"),
      { type: "date", value: (profile.birth_date || "").slice(0, 10) }) : null,
    user.role === "client" ? field("pathology", t("pathology"), { value: profile.pathology || "" }) : null,
    element("p", { class: "form-error", role: "alert" }),
    element("p", { class: "notice", role: "status" }),
    element("button", { type: "submit" }, t("save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const changes = { name: data.name };
    if (user.role === "client") {
      changes.profile = { pathology: data.pathology || null, birth_date: data.birth_date || null };
    }
    try {
      await call("PATCH", "/users/me", changes);
      form.querySelector(".notice").textContent = t("saved");
    } catch (error) { showErrors(form, error); }
  });
  return form;
}

function passwordView() {
  const form = element("form", { novalidate: "" },
    element("h1", {}, t("changePassword")),
    field("old_password", t("oldPassword"), { type: "password", autocomplete: "current-password" }),
    field("new_password", t("newPassword"), { type: "password", autocomplete: "new-password", minlength: "8" }),
    element("p", { class: "form-error", role: "alert" }),
    element("p", { class: "notice", role: "status" }),
    element("button", { type: "submit" }, t("save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await call("PUT", "/users/me/password", Object.fromEntries(new FormData(form)));
      form.reset();
      form.querySelector(".notice").textContent = t("passwordChanged");
    } catch (error) { showErrors(form, error); }
  });
  return form;
}

const ROUTES = { "#/login": loginView, "#/profile": profileView, "#/password": passwordView };

async function render() {
  let route = ROUTES[location.hash] ? location.hash : "#/profile";
  if (!signedIn()) route = "#/login";
  document.documentElement.lang = language;
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  renderNav();
  try {
    view.replaceChildren(await ROUTES[route]());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem("token");
      location.hash = "#/login";
      return;
    }
    view.replaceChildren(element("p", { class: "form-error", role: "alert" }, t("failed")));
  }
  view.focus();
}

const picker = document.getElementById("language");
picker.value = language;
picker.addEventListener("change", () => {
  language = picker.value;
  localStorage.setItem("language", language);
  t = translator(language);
  render();
});
window.addEventListener("hashchange", render);
render();
