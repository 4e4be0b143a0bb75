// Everyone's screens: sign in, one's own profile, one's own password.
import { call } from "/app/api.js";
import { clearErrors, element, field, formStatus, formValues, notice, showErrors } from "/app/dom.js";
import { profileBody, profileFields } from "/app/people.js";

export function login(app) {
  const { t } = app;
  const form = element("form", { novalidate: true },
    element("h1", {}, t("signIn")),
    element("p", {}, t("welcome")),
    field("email", t("email"), { type: "email", autocomplete: "username", required: true }),
    field("password", t("password"), { type: "password", autocomplete: "current-password", required: true }),
    formStatus(),
    element("button", { type: "submit" }, t("signIn")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await call("POST", "/user/login", formValues(form));
      await app.signedIn(answer.auth_token);
    } catch (error) { showErrors(form, error, t); }
  });
  return form;
}

export async function profile(app) {
  const { t } = app;
  const { user } = await call("GET", "/users/me");
  const isClient = user.role === "client";
  const form = element("form", { novalidate: true },
    element("h1", {}, t("profile")),
    element("dl", {},
      element("dt", {}, t("email")), element("dd", { id: "profile-email" }, user.email),
      element("dt", {}, t("role")), element("dd", { id: "profile-role" }, t(user.role || "none"))),
    field("name", t("name"), { value: user.name, required: true, autocomplete: "name" }),
    isClient ? profileFields(t, user.profile) : null,
    formStatus(),
    element("button", { type: "submit" }, t("save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const changes = { name: values.name };
    if (isClient) changes.profile = profileBody(values);
    try {
      const answer = await call("PATCH", "/users/me", changes);
      app.user = answer.user;
      clearErrors(form);
      notice(form, t("saved"));
    } catch (error) { showErrors(form, error, t); }
  });
  return form;
}

export function password(app) {
  const { t } = app;
  const form = element("form", { novalidate: true },
    element("h1", {}, t("changePassword")),
    field("old_password", t("oldPassword"), { type: "password", autocomplete: "current-password" }),
    field("new_password", t("newPassword"), { type: "password", autocomplete: "new-password", minlength: "8" }),
    formStatus(),
    element("button", { type: "submit" }, t("save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await call("PUT", "/users/me/password", formValues(form));
      form.reset();
      clearErrors(form);
      notice(form, t("passwordChanged"));
    } catch (error) { showErrors(form, error, t); }
  });
  return form;
}
