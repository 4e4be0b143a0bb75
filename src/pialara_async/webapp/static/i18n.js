// The screens' words in Spanish and English; roles named as the course names them.
export const MESSAGES = {
  es: {
    language: "Idioma", signIn: "Iniciar sesión", signOut: "Cerrar sesión", email: "Correo electrónico",
    password: "Contraseña", profile: "Mi perfil", changePassword: "Cambiar contraseña",
    oldPassword: "Contraseña actual", newPassword: "Contraseña nueva", save: "Guardar",
    name: "Nombre", role: "Rol", saved: "Guardado.", passwordChanged: "Contraseña cambiada.",
    admin: "Administrador", technician: "Técnico", client: "Cliente", none: "Usuario",
    sex: "Sexo", birthDate: "Fecha de nacimiento", pathology: "Patología", age: "Edad",
    female: "Mujer", male: "Hombre", other: "Otro", unknown: "—", welcome: "Inicia sesión para continuar.",
    failed: "No se pudo completar: inténtalo de nuevo.", notFound: "No existe, o no puedes verlo.",
    users: "Usuarios", newUser: "Nuevo usuario", editUser: "Editar usuario", search: "Buscar",
    anyRole: "Todos los roles", noResults: "No hay resultados.", edit: "Editar", delete: "Eliminar",
    confirmDelete: "¿Eliminar a {name}?", yesDelete: "Sí, eliminar", cancel: "Cancelar",
    deleted: "{name} eliminado.", created: "Creado.", back: "Volver", choose: "Elige…",
    page: "Página {page} de {pages}", results: "{count} resultados", previous: "Anterior", next: "Siguiente",
    myClients: "Mis clientes", clientProfile: "Perfil del cliente", newClient: "Nuevo cliente", editClient: "Editar cliente",
    "refused.technician_has_clients": "Este técnico aún tiene clientes: asígnalos antes a otro técnico.",
    "refused.last_admin": "Es el último administrador: nombra antes a otro administrador.",
    movies: "Películas", searchBy: "Buscar por", byText: "Título y texto", byCast: "Reparto", byGenre: "Género",
    searchTerms: "Términos", year: "Año", genres: "Géneros", directors: "Dirección", cast: "Reparto",
    runtime: "Duración", minutes: "{n} min", rating: "IMDb", plot: "Argumento",
    comments: "Comentarios", noComments: "Aún no hay comentarios.", comment: "Tu comentario",
    editComment: "Editar el comentario",
    postComment: "Publicar", signInToComment: "Inicia sesión para comentar.",
    live: "En directo", reconnecting: "Reconectando…", skip: "Saltar al contenido", actions: "Acciones",
  },
  en: {
    language: "Language", signIn: "Sign in", signOut: "Sign out", email: "E-mail",
    password: "Password", profile: "My profile", changePassword: "Change password",
    oldPassword: "Current password", newPassword: "New password", save: "Save",
    name: "Name", role: "Role", saved: "Saved.", passwordChanged: "Password changed.",
    admin: "Administrator", technician: "Technician", client: "Client", none: "User",
    sex: "Sex", birthDate: "Birth date", pathology: "Pathology", age: "Age",
    female: "Female", male: "Male", other: "Other", unknown: "—", welcome: "Sign in to go on.",
    failed: "It could not be done: try again.", notFound: "It does not exist, or you may not see it.",
    users: "Users", newUser: "New user", editUser: "Edit user", search: "Search",
    anyRole: "All roles", noResults: "Nothing found.", edit: "Edit", delete: "Delete",
    confirmDelete: "Delete {name}?", yesDelete: "Yes, delete", cancel: "Cancel",
    deleted: "{name} deleted.", created: "Created.", back: "Back", choose: "Choose…",
    page: "Page {page} of {pages}", results: "{count} results", previous: "Previous", next: "Next",
    myClients: "My clients", clientProfile: "The client's profile", newClient: "New client", editClient: "Edit client",
    "refused.technician_has_clients": "This technician still has clients: assign them to another technician first.",
    "refused.last_admin": "This is the last administrator: make another user an administrator first.",
    movies: "Movies", searchBy: "Search by", byText: "Title and text", byCast: "Cast", byGenre: "Genre",
    searchTerms: "Terms", year: "Year", genres: "Genres", directors: "Directed by", cast: "Cast",
    runtime: "Runtime", minutes: "{n} min", rating: "IMDb", plot: "Plot",
    comments: "Comments", noComments: "No comments yet.", comment: "Your comment",
    editComment: "Edit the comment",
    postComment: "Post", signInToComment: "Sign in to comment.",
    live: "Live", reconnecting: "Reconnecting…", skip: "Skip to content", actions: "Actions",
  },
};

export function chooseLanguage() {
  const saved = localStorage.getItem("language");
  if (saved in MESSAGES) return saved;
  const preferred = (navigator.languages || [navigator.language]).map((l) => l.slice(0, 2));
  return preferred.find((l) => l in MESSAGES) || "es";
}

// t("page", {page: 1, pages: 3}): the message with its {placeholders} filled.
export function translator(language) {
  return (key, values = {}) => {
    const text = MESSAGES[language][key] ?? MESSAGES.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  };
}
