// HTTP client for the Blend API (/api/v1/...). The session cookie set at login authenticates
// every call (same origin). A non-2xx answer throws an ApiError carrying the API's JSON error
// body: {error: {code, message, details: [{path, message}]}} (docs/openapi.yaml, Error).

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields; // [{path, message}] for validation errors, else []
  }
}

// api("GET", "/api/v1/auth/me") → parsed JSON (null for 204). extraHeaders is optional
// (e.g. {"If-Match": etag}).
export async function api(method, path, body, extraHeaders) {
  const headers = { ...(extraHeaders || {}) };
  if (body !== undefined && body !== null) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers,
      body: body !== undefined && body !== null ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, "network", e.message || "network error", []);
  }
  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code || "http_" + res.status,
      err.message || res.statusText || String(res.status), err.details || []);
  }
  return data;
}

// Every item of a paged list: follows next_cursor. path may already carry a query string.
export async function listAll(path) {
  const items = [];
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const page = await api("GET", `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
