// A client of the service's own JSON API: the same bearer tokens, no second login system.
export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.error === "string" ? body.error : `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
    this.fields = body && typeof body.error === "object" && body.error !== null ? body.error : {};
  }
}

export function token() {
  return sessionStorage.getItem("token");
}

export async function call(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Whether a value is set: not absent, null or empty.
export function present(value) {
  return value !== undefined && value !== null && value !== "";
}

// A query string of the values that are set.
export function query(values) {
  const set = Object.entries(values).filter(([, value]) => present(value));
  return set.length ? `?${new URLSearchParams(set)}` : "";
}
