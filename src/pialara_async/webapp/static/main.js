// PIA Lara's web interface: a hash router over the screens, the signed-in
// person, the language and the live feed. Static ES modules, no build step,
// nothing fetched from the internet.
import * as account from "/app/account.js";
import { ApiError, call, token } from "/app/api.js";
import { element } from "/app/dom.js";
import { chooseLanguage, translator } from "/app/i18n.js";
import { LiveFeed } from "/app/live.js";
import * as movies from "/app/movies.js";
import * as people from "/app/people.js";

const ID = "([0-9a-f]{24})";
// [pattern, screen, who may open it: "anyone", "signed-in" or a role]
const ROUTES = [
  ["/login", account.login, "anyone"],
  ["/profile", account.profile, "signed-in"],
  ["/password", account.password, "signed-in"],
  ["/users", people.userList, "admin"],
  ["/users/new", people.newUser, "admin"],
  [`/users/${ID}`, people.editUser, "admin"],
  ["/clients", people.clientList, "technician"],
  ["/clients/new", people.newClient, "technician"],
  [`/clients/${ID}`, people.editClient, "technician"],
  ["/movies", movies.search, "anyone"],
  [`/movies/${ID}`, movies.movie, "anyone"],
].map(([pattern, screen, access]) => [new RegExp(`^${pattern}$`), screen, access]);

const HOME = { admin: "#/users", technician: "#/clients" };

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const announcer = document.getElementById("announcer");
const picker = document.getElementById("language");

const app = {
  language: chooseLanguage(),
  t: null,
  user: null, // the signed-in person, from /users/me
  live: new LiveFeed(),
  leaving: [], // what the current screen undoes when another one opens
  go(hash) {
    if (location.hash === hash) render(); else location.hash = hash;
  },
  // A message that outlives the screen change it comes with ("Created.").
  announce(text) { announcer.textContent = text; announced = true; },
  async signedIn(newToken) {
    sessionStorage.setItem("token", newToken);
    app.user = (await call("GET", "/users/me")).user;
    app.go(HOME[app.user.role] || "#/profile");
  },
  // The screen follows a live topic until another screen opens; it fetches
  // once the returned promise resolves (subscribed).
  follow(topic, refresh, onEvent = refresh) {
    const { settled, leave } = app.live.follow(topic, { onEvent, onReset: refresh });
    app.leaving.push(leave);
    return settled;
  },
  liveStatus(show) {
    app.live.onStatus = show;
    show(app.live.status);
    app.leaving.push(() => { app.live.onStatus = () => {}; });
  },
  failed(error) { handleFailure(error); },
};
app.t = translator(app.language);

function link(hash, key) {
  const here = location.hash.split("?")[0] === hash;
  return element("a", { href: hash, "aria-current": here ? "page" : null }, app.t(key));
}

function renderNav() {
  const role = app.user?.role;
  nav.replaceChildren(...[
    role === "admin" ? link("#/users", "users") : null,
    role === "technician" ? link("#/clients", "myClients") : null,
    link("#/movies", "movies"),
    app.user ? link("#/profile", "profile") : null,
    app.user ? link("#/password", "changePassword") : null,
    app.user ? element("button", { type: "button", class: "link", onclick: signOut }, app.t("signOut"))
      : link("#/login", "signIn"),
  ].filter(Boolean));
}

async function signOut() {
  try { await call("POST", "/user/logout"); } catch { /* the token may have expired already */ }
  forget();
  app.go("#/login");
}

function forget() {
  sessionStorage.removeItem("token");
  app.user = null;
  app.live.close();
}

function handleFailure(error) {
  if (error instanceof ApiError && error.status === 401) {
    forget();
    app.go("#/login");
    return;
  }
  if (error instanceof ApiError && error.status === 403 && app.user) {
    // The person's role changed meanwhile: read it again and go to its home.
    app.user = null;
    history.replaceState(null, "", "#/");
    render();
    return;
  }
  view.replaceChildren(element("p", { class: "form-error", role: "alert" },
    app.t(error instanceof ApiError && error.status === 404 ? "notFound" : "failed")));
}

function leave() {
  for (const undo of app.leaving.splice(0)) undo();
}

let rendering = 0;
let announced = false;
let shown = false; // whether a screen has been shown since the page loaded

async function render() {
  const mine = ++rendering;
  leave();
  if (!announced) announcer.textContent = "";
  announced = false;
  const [path, search] = location.hash.slice(1).split("?");
  document.documentElement.lang = app.language;
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = app.t(node.dataset.t); });
  try {
    if (token() && !app.user) app.user = (await call("GET", "/users/me")).user;
    let route = ROUTES.find(([pattern]) => pattern.test(path || ""));
    const allowed = route && (route[2] === "anyone" || (app.user && (route[2] === "signed-in"
      || route[2] === app.user.role)));
    if (!allowed) {
      const home = !app.user ? "#/login" : HOME[app.user.role] || "#/profile";
      if (location.hash !== home) { location.replace(home); return; }
      route = ROUTES.find(([pattern]) => pattern.test(home.slice(1)));
    }
    if (route[1] === account.login && app.user) { app.go(HOME[app.user.role] || "#/profile"); return; }
    renderNav();
    const params = (path.match(route[0]) || []).slice(1);
    const screen = await route[1](app, params, new URLSearchParams(search || ""));
    if (mine !== rendering) return; // another screen was asked for meanwhile
    view.replaceChildren(screen);
    document.title = `${screen.querySelector("h1")?.textContent ?? ""} · PIA Lara`;
    // After a change of screen the focus starts at the new one; on the first
    // load it stays at the top, where the skip link is.
    if (shown) {
      window.scrollTo(0, 0);
      view.focus({ preventScroll: true });
    }
    shown = true;
  } catch (error) {
    if (mine === rendering) handleFailure(error);
  }
}

// The skip link moves the focus; it must not change the route.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  view.focus();
});
picker.value = app.language;
picker.addEventListener("change", () => {
  app.language = picker.value;
  localStorage.setItem("language", app.language);
  app.t = translator(app.language);
  render();
});
window.addEventListener("hashchange", render);
render();
