// Small helpers to build the screens from plain DOM nodes.
import { ApiError } from "/app/api.js";

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

// A labelled control with a slot for its error. ``name`` is the field's path
// in the API's body ("profile.birth_date"), so an API error about it lands here.
function labelled(name, label, control) {
  const error = element("span", { class: "field-error", id: `error-${name}`, "aria-live": "polite" });
  control.setAttribute("aria-describedby", error.id);
  // The error stays outside the label: it describes the field, it does not name it.
  return element("div", { class: "field", "data-field": name },
    element("label", { for: control.id }, label), control, error);
}

export function field(name, label, attributes = {}) {
  return labelled(name, label, element("input", { name, id: `field-${name}`, ...attributes }));
}

export function choice(name, label, options, value, attributes = {}) {
  const select = element("select", { name, id: `field-${name}`, ...attributes },
    options.map(([optionValue, text]) => element("option", { value: optionValue }, text)));
  select.value = value ?? "";
  return labelled(name, label, select);
}

export function textarea(name, label, value = "", attributes = {}) {
  const area = element("textarea", { name, id: `field-${name}`, rows: "3", ...attributes });
  area.value = value;
  return labelled(name, label, area);
}

export function formStatus() {
  return [element("p", { class: "form-error", role: "alert" }),
          element("p", { class: "notice", role: "status" })];
}

export function notice(form, text) {
  form.querySelector(".notice").textContent = text;
}

// The API's answer next to the field it concerns; anything else above the button.
export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error, .notice").forEach((node) => { node.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

export function showErrors(form, error, t) {
  clearErrors(form);
  const general = form.querySelector(".form-error");
  if (!(error instanceof ApiError)) { general.textContent = t("failed"); return; }
  let placed = false;
  for (const [name, message] of Object.entries(error.fields)) {
    const slot = form.querySelector(`#error-${CSS.escape(name)}`);
    if (!slot) continue;
    slot.textContent = message;
    form.querySelector(`#field-${CSS.escape(name)}`)?.setAttribute("aria-invalid", "true");
    placed = true;
  }
  if (!placed) general.textContent = refusalText(error, t);
}

// A refusal in the page's language when the API names it with a code.
export function refusalText(error, t) {
  if (error instanceof ApiError && error.code) return t(`refused.${error.code}`);
  if (error instanceof ApiError) {
    const fields = Object.entries(error.fields).map(([name, text]) => `${name}: ${text}`);
    return fields.length ? fields.join("; ") : error.message;
  }
  return t("failed");
}

// "Página 2 de 3 · 45 resultados", with links to the pages either side.
export function pager(t, page, total, perPage, hrefFor) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const where = t("page", { page: page + 1, pages });
  return element("nav", { class: "pager", "aria-label": where },
    page > 0 ? element("a", { href: hrefFor(page - 1), rel: "prev" }, t("previous")) : null,
    element("span", { class: "page-status" }, `${where} · ${t("results", { count: total })}`),
    page + 1 < pages ? element("a", { href: hrefFor(page + 1), rel: "next" }, t("next")) : null);
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form));
}

// "1990-05-17 00:00:00" (the API's dates) as the value of a date input.
export function dateOnly(value) {
  return typeof value === "string" ? value.slice(0, 10) : "";
}
