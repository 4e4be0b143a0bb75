// The screens' words in Spanish and English; roles named as the course names them.
export const MESSAGES = {
  es: {
    language: "Idioma", signIn: "Iniciar sesión", signOut: "Cerrar sesión", email: "Correo electrónico",
    password: "Contraseña", profile: "Mi perfil", changePassword: "Cambiar contraseña",
    oldPassword: "Contraseña actual", newPassword: "Contraseña nueva", save: "Guardar",
    name: "Nombre", role: "Rol", saved: "Guardado.", passwordChanged: "Contraseña cambiada.",
    admin: "Administrador", technician: "Técnico", client: "Cliente", none: "Usuario",
    sex: "Sexo", birthDate: "Fecha de nacimiento", pathology: "Patología",
    female: "Mujer", male: "Hombre", other: "Otro", welcome: "Inicia sesión para continuar.",
    failed: "No se pudo completar: inténtalo de nuevo.",
  },
  en: {
    language: "Language", signIn: "Sign in", signOut: "Sign out", email: "E-mail",
    password: "Password", profile: "My profile", changePassword: "Change password",
    oldPassword: "Current password", newPassword: "New password", save: "Save",
    name: "Name", role: "Role", saved: "Saved.", passwordChanged: "Password changed.",
    admin: "Administrator", technician: "Technician", client: "Client", none: "User",
    sex: "Sex", birthDate: "Birth date", pathology: "Pathology",
    female: "Female", male: "Male", other: "Other", welcome: "Sign in to go on.",
    failed: "It could not be done: try again.",
  },
};

export function chooseLanguage() {
  const saved = localStorage.getItem("language");
  if (saved in MESSAGES) return saved;
  const preferred = (navigator.languages || [navigator.language]).map((l) => l.slice(0, 2));
  return preferred.find((l) => l in MESSAGES) || "es";
}

export function translator(language) {
  return (key) => MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
}
