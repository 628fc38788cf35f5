// The editor API over fetch: the bearer token, problem+json errors, and a timeout.

import { accessEnded, reasonOf } from "./access.js";

const TOKEN_KEY = "liveblog.token";
const TIMEOUT_MS = 10000;

// Signed in on this browser until sign-out: every tab, and the app opened from the home screen,
// reads the same token (localStorage). Signing out in one tab signs every tab out ("storage").
export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (value) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
  key: TOKEN_KEY,
};

/** An answer that is not 2xx. `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem?.detail || (status ? `HTTP ${status}` : "The server cannot be reached."));
    this.status = status;
    this.problem = problem || null;
    this.headers = headers || new Headers();
  }

  /** Worth sending again unchanged: the request may not have been applied yet. */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }

  /** Seconds the server asked us to wait (Retry-After), or null. */
  get retryAfter() {
    const value = Number(this.headers.get("Retry-After"));
    return Number.isFinite(value) && value > 0 ? value : null;
  }

  /** "Headline: too long" lines from the problem's field errors, or the detail. */
  get messages() {
    const errors = this.problem?.errors;
    if (Array.isArray(errors) && errors.length) {
      return errors.map((e) => `${e.path.replace(/^\$\.?/, "") || "request"}: ${e.message}`);
    }
    return [this.message];
  }
}

/**
 * Call the API. `body` is sent as JSON; a string is sent as it is (an idempotent retry must
 * send the very same bytes). `secret` sends that token rather than the tab's current one (the
 * outbox's entries go with the token that queued them). Resolves to {data, headers, status};
 * rejects with ApiError.
 */
export async function api(method, path, { body, headers = {}, auth = true, secret = token.get() } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (auth && secret) init.headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  init.signal = controller.signal;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0); // offline, refused, reset or timed out: nothing is known
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null; // a proxy's HTML error page, say
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data, response.headers);
    // The server no longer takes this token (revoked, expired): the console's one path for
    // that (access.js) ends the session if it is still the token it is signed in with.
    if (response.status === 401 && auth && secret) accessEnded(reasonOf(401, response.headers), secret);
    throw error;
  }
  return { data, headers: response.headers, status: response.status };
}

export const blogPath = (slug) => `/api/blogs/${encodeURIComponent(slug)}`;
export const entryPath = (slug, id) => `${blogPath(slug)}/entries/${encodeURIComponent(id)}`;
