// The live connection: EventSource from a known position, resumed after any failure.
//
// The browser's own EventSource retry would reuse the page's first URL and a fixed delay, so
// every failure closes the source and this module reconnects itself: with backoff and jitter
// (a restarted server is not hit by every reader at once) and from the last event it handled.

const EVENT_TYPES = ["entry.created", "entry.updated", "entry.deleted", "blog.updated", "reset"];
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
const OFFLINE_AFTER_ATTEMPTS = 5; // ~15 s of failures in a row: call it offline, keep trying
// A server that shuts down ends every stream at the same moment. A stream that was live comes
// back after a random delay within this window (the server's `retry:` hint), so the readers of
// a restarted process reach the others spread out, not all in the same instant.
const RESUME_SPREAD_MS = 2000;

/** "<epoch>-<offset>" -> {epoch, offset}, or null. */
export function parseEventId(id) {
  const at = typeof id === "string" ? id.lastIndexOf("-") : -1;
  if (at <= 0) return null;
  const offset = Number(id.slice(at + 1));
  return Number.isSafeInteger(offset) ? { epoch: id.slice(0, at), offset } : null;
}

export class LiveStream {
  /**
   * @param {string} url the SSE endpoint
   * @param {string} lastEventId the position the page reflects
   * @param {(event: object) => void} onEvent called once per event, in order
   * @param {(state: string) => void} onState "connecting" | "live" | "reconnecting" | "offline"
   */
  constructor(url, lastEventId, onEvent, onState) {
    this.url = url;
    this.lastEventId = lastEventId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.source = null;
    this.timer = null;
    this.attempt = 0;
    this.wasLive = false; // the current source opened: its end is the server's goodbye
    this.running = false;
    this.onOnline = () => this.running && this.reconnectNow();
    this.onOffline = () => this.running && this.drop("offline");
  }

  start() {
    if (this.running) return;
    this.running = true;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
  }

  stop() {
    this.running = false;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    this.timer = null;
    this.close();
  }

  close() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  connect() {
    this.timer = null;
    this.wasLive = false;
    this.close();
    const url = new URL(this.url, window.location.href);
    if (this.lastEventId) url.searchParams.set("last_event_id", this.lastEventId);
    this.onState(this.attempt === 0 ? "connecting" : this.failureState());
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.attempt = 0;
      this.wasLive = true;
      this.onState("live");
    };
    source.onerror = () => {
      if (this.source === source) this.drop(this.failureState());
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        if (this.source === source) this.receive(message);
      });
    }
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return; // not ours: ignore rather than break the page
    }
    if (!event || typeof event.id !== "string") return;
    if (event.type !== "reset" && this.isStale(event.id)) return;
    this.onEvent(event);
    // A reset's id is adopted only after the timeline is reloaded (the handler does it).
    if (event.type !== "reset" && this.running) this.lastEventId = event.id;
  }

  /** An event at or before our position was already applied (e.g. replayed on resume). */
  isStale(id) {
    const seen = parseEventId(this.lastEventId);
    const next = parseEventId(id);
    return Boolean(seen && next && seen.epoch === next.epoch && next.offset <= seen.offset);
  }

  failureState() {
    if (navigator.onLine === false || this.attempt >= OFFLINE_AFTER_ATTEMPTS) return "offline";
    return "reconnecting";
  }

  /** Close after a failure and come back later, from the last handled event. */
  drop(state) {
    this.close();
    this.onState(state);
    if (!this.running || this.timer !== null) return;
    if (navigator.onLine === false) return; // the "online" event reconnects
    this.timer = setTimeout(() => this.connect(), this.nextDelay());
  }

  /** After a live stream ends: anywhere in the spread; after failed attempts: backoff. */
  nextDelay() {
    if (this.wasLive) return Math.random() * RESUME_SPREAD_MS; // "full jitter"
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  }
}
