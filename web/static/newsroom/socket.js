// One WebSocket to /ws for many blogs: subscriptions that survive reconnects, resumed from
// each blog's last event id, so a dashboard misses nothing while the server restarts.

import { parseEventId } from "../reader/stream.js";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// A restarting server closes every socket at once (close code 1012). A socket that was open
// comes back after a random delay within this window, so the dashboards of a restarted process
// reach the others spread out, not all in the same instant.
const RESUME_SPREAD_MS = 2000;

export class MultiBlogSocket {
  /**
   * @param {(event: object) => void} onEvent every event, once, in order per blog
   * @param {(state: string) => void} onState "connecting" | "live" | "reconnecting"
   */
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.blogs = new Map(); // slug -> last event id (null: from now)
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.started = false;
  }

  start() {
    this.started = true;
    this.connect();
    window.addEventListener("online", () => this.reconnectNow());
  }

  subscribe(slug, lastEventId = null) {
    this.blogs.set(slug, lastEventId);
    this.send({ op: "subscribe", blog: slug, ...(lastEventId ? { last_event_id: lastEventId } : {}) });
  }

  unsubscribe(slug) {
    if (this.blogs.delete(slug)) this.send({ op: "unsubscribe", blog: slug });
  }

  /** After a reset: the position the reloaded entries reflect, unless events went past it. */
  adopt(slug, lastEventId) {
    if (!this.blogs.has(slug)) return;
    const seen = parseEventId(this.blogs.get(slug));
    const next = parseEventId(lastEventId);
    if (!seen || !next || seen.epoch !== next.epoch || next.offset > seen.offset) {
      this.blogs.set(slug, lastEventId);
    }
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  connect() {
    this.timer = null;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws`);
    this.socket = socket;
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    socket.onopen = () => {
      socket.wasOpen = true;
      this.attempt = 0;
      this.onState("live");
      for (const [slug, last] of this.blogs) this.subscribe(slug, last);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), this.nextDelay(socket));
    };
  }

  /** After an open socket closes: anywhere in the spread; after failed attempts: backoff. */
  nextDelay(socket) {
    if (socket.wasOpen) return Math.random() * RESUME_SPREAD_MS; // "full jitter"
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
  }

  reconnectNow() {
    if (this.socket) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (event.type === "error") {
      // "store unavailable: subscribe again shortly", or a blog that is gone.
      const slug = event.blog;
      if (slug && this.blogs.has(slug) && /unavailable/.test(event.data?.message || "")) {
        setTimeout(() => this.blogs.has(slug) && this.subscribe(slug, this.blogs.get(slug)), 2000);
      }
      return;
    }
    if (!this.blogs.has(event.blog)) return; // unsubscribed meanwhile
    if (event.type !== "reset") {
      const seen = parseEventId(this.blogs.get(event.blog));
      const next = parseEventId(event.id);
      if (seen && next && seen.epoch === next.epoch && next.offset <= seen.offset) return;
      this.blogs.set(event.blog, event.id);
    }
    this.onEvent(event);
  }
}
