// Entries on their way to the server. Never lost, never doubled:
//
// - an entry is written to localStorage BEFORE the first attempt and removed only once the
//   server has answered 2xx, so a closed tab, a crash or a dead server keeps it;
// - every attempt sends the same bytes with the same Idempotency-Key, so an attempt whose answer
//   was lost cannot publish a second copy: the server replays its first answer instead;
// - failures that may pass (no network, 5xx, 429) are retried with backoff; the others (4xx)
//   wait for the editor, with the server's reason;
// - the outbox belongs to the token that queued it: it is stored under that token's id and sent
//   with that token only. Signed out, there is no outbox at all: another editor signing in on
//   this device sees and sends only their own.

import { ApiError, api, blogPath } from "./api.js";

const STORAGE_PREFIX = "liveblog.outbox.";
const LEGACY_KEY = "liveblog.outbox"; // one outbox for whoever signed in next: never sent
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 15000;

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
    this.owner = null; // the signed-in token's id; null: signed out, nothing stored or sent
    this.secret = null; // that token: every send carries it, whatever the tab holds by then
    localStorage.removeItem(LEGACY_KEY);
    window.addEventListener("storage", (event) => {
      // Another tab of this editor changed the outbox: show what it did.
      if (this.owner && event.key === this.storageKey) this.emit();
    });
    window.addEventListener("online", () => this.retryAll());
  }

  get storageKey() {
    return this.owner ? STORAGE_PREFIX + this.owner : null;
  }

  /** Signed in: this token's outbox (kept from an earlier session on this device) is the one. */
  open(owner, secret) {
    if (owner !== this.owner) this.stopTimers();
    this.owner = owner;
    this.secret = secret;
    this.emit();
  }

  /** Signed out: nothing is sent any more; `discard` also deletes what was not sent. */
  close({ discard = false } = {}) {
    if (discard && this.owner) localStorage.removeItem(this.storageKey);
    this.stopTimers();
    this.owner = null;
    this.secret = null;
    this.emit();
  }

  stopTimers() {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  get items() {
    return this.load();
  }

  load() {
    if (!this.owner) return [];
    try {
      const items = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save(items) {
    if (!this.owner) return;
    localStorage.setItem(this.storageKey, JSON.stringify(items));
    this.emit();
  }

  update(key, changes) {
    const items = this.load();
    const item = items.find((i) => i.key === key);
    if (!item) return null;
    Object.assign(item, changes);
    this.save(items);
    return item;
  }

  remove(key) {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.save(this.load().filter((i) => i.key !== key));
  }

  emit(detail = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }

  /** Queue an entry and send it. Stored first: from here on it cannot be lost. */
  add(blog, fields, payload) {
    if (!this.owner) throw new Error("Signed out: there is no outbox to queue in.");
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
    this.save([...this.load(), item]);
    this.send(item.key);
    return item;
  }

  /** Send everything not yet confirmed (page load, sign-in, back online, stream back). */
  retryAll({ failedToo = false } = {}) {
    for (const item of this.load()) {
      if (item.state !== "failed" || failedToo || item.error?.status === 401) this.send(item.key);
    }
  }

  async send(key) {
    if (!this.owner || this.inFlight.has(key)) return;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const item = this.update(key, { state: "sending", retryAt: null });
    if (!item) return;
    const owner = this.owner;
    this.inFlight.add(key);
    try {
      const { data, headers } = await api("POST", `${blogPath(item.blog)}/entries`, {
        body: item.body,
        headers: { "Idempotency-Key": item.key },
        secret: this.secret,
      });
      if (this.owner !== owner) return; // signed out meanwhile: that outbox is not shown now
      this.remove(key);
      const replayed = headers.get("Idempotent-Replayed") === "true";
      this.emit({ published: data, blog: item.blog, key, replayed });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (this.owner === owner) this.failed(item, error);
    } finally {
      this.inFlight.delete(key);
    }
  }

  failed(item, error) {
    const attempts = item.attempts + 1;
    const summary = { status: error.status, messages: error.messages };
    if (!error.retryable) {
      this.update(item.key, { state: "failed", attempts, error: summary });
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
    const item = this.load().find((i) => i.key === key);
    if (item) this.remove(key);
    return item || null;
  }
}
