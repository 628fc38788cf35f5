// Entries on their way to the server. Never lost, never doubled:
//
// - an entry is written to localStorage BEFORE the first attempt and removed only once the
//   server has answered 2xx, so a closed tab, a crash or a dead server keeps it;
// - every attempt sends the same bytes with the same Idempotency-Key, so an attempt whose answer
//   was lost cannot publish a second copy: the server replays its first answer instead;
// - failures that may pass (no network, 5xx, 429) are retried with backoff; the others (4xx)
//   wait for the editor, with the server's reason.

import { ApiError, api, blogPath } from "./api.js";

const STORAGE_KEY = "liveblog.outbox";
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 15000;

function load() {
  try {
    const items = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Item: {key, blog, body (the exact JSON sent), fields (for display and editing), state
 * ("sending" | "waiting" | "failed"), attempts, error, retryAt, createdAt}.
 */
export class Outbox extends EventTarget {
  constructor() {
    super();
    this.timers = new Map(); // key -> retry timer
    this.inFlight = new Set();
    this.paused = false; // signed out: nothing can be sent
    window.addEventListener("storage", (event) => {
      // Another tab of this editor changed the outbox: show what it did.
      if (event.key === STORAGE_KEY) this.emit();
    });
    window.addEventListener("online", () => this.retryAll());
  }

  get items() {
    return load();
  }

  save(items) {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(items));
    this.emit();
  }

  update(key, changes) {
    const items = load();
    const item = items.find((i) => i.key === key);
    if (!item) return null;
    Object.assign(item, changes);
    this.save(items);
    return item;
  }

  remove(key) {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.save(load().filter((i) => i.key !== key));
  }

  emit(detail = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }

  /** Queue an entry and send it. Stored first: from here on it cannot be lost. */
  add(blog, fields, payload) {
    const item = {
      key: newKey(),
      blog,
      body: JSON.stringify(payload),
      fields,
      state: "sending",
      attempts: 0,
      error: null,
      retryAt: null,
      createdAt: new Date().toISOString(),
    };
    this.save([...load(), item]);
    this.send(item.key);
    return item;
  }

  /** Send everything not yet confirmed (page load, sign-in, back online, stream back). */
  retryAll({ failedToo = false } = {}) {
    for (const item of load()) {
      if (item.state !== "failed" || failedToo || item.error?.status === 401) this.send(item.key);
    }
  }

  async send(key) {
    if (this.paused || this.inFlight.has(key)) return;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const item = this.update(key, { state: "sending", retryAt: null });
    if (!item) return;
    this.inFlight.add(key);
    try {
      const { data, headers } = await api("POST", `${blogPath(item.blog)}/entries`, {
        body: item.body,
        headers: { "Idempotency-Key": item.key },
      });
      this.remove(key);
      const replayed = headers.get("Idempotent-Replayed") === "true";
      this.emit({ published: data, blog: item.blog, key, replayed });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.failed(item, error);
    } finally {
      this.inFlight.delete(key);
    }
  }

  failed(item, error) {
    const attempts = item.attempts + 1;
    const summary = { status: error.status, messages: error.messages };
    if (!error.retryable) {
      this.update(item.key, { state: "failed", attempts, error: summary });
      if (error.status === 401) this.dispatchEvent(new CustomEvent("unauthorized"));
      return;
    }
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempts - 1));
    let delay = ceiling / 2 + Math.random() * (ceiling / 2);
    if (error.retryAfter) delay = Math.max(delay, error.retryAfter * 1000);
    const retryAt = Date.now() + delay;
    this.update(item.key, { state: "waiting", attempts, error: summary, retryAt });
    this.timers.set(item.key, setTimeout(() => this.send(item.key), delay));
  }

  /** Take an item back into the composer: it leaves the outbox (a new key when re-sent). */
  take(key) {
    const item = load().find((i) => i.key === key);
    if (item) this.remove(key);
    return item || null;
  }
}
