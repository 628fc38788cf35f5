// The newsroom dashboard: every live blog on one /ws socket, and /api/stats every few seconds
// for what only the server knows (readers on every process, entries per hour, latency).

import { entryTitle } from "../reader/render.js";
import { orderKey } from "../reader/times.js";
import { api, blogPath } from "./api.js";
import { MultiBlogSocket } from "./socket.js";
import { duration, el, formatNumber, shortTime, wallClock, zoneName } from "./ui.js";

const $ = (id) => document.getElementById(id);
const LATEST = 5;
const POLL_MS = 2000;
const SOCKET_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" };

const root = $("main");
const thresholds = {
  amber: Number(root.dataset.amberMinutes) * 60,
  red: Number(root.dataset.redMinutes) * 60,
};
const blogs = new Map(); // slug -> {blog, card, entries, lastEntryAt (server ms), loading}
let skew = 0; // server clock minus ours, ms
const socket = new MultiBlogSocket(onEvent, (s) => {
  const pill = $("socket-status");
  pill.dataset.state = s;
  pill.querySelector("[data-role=text]").textContent = SOCKET_TEXT[s] || s;
});

const serverNow = () => Date.now() + skew;
const keyOf = (e) => orderKey(e.published_at, e.id);

// --- stats ------------------------------------------------------------------------------

async function poll() {
  try {
    const { data } = await api("GET", "/api/stats", { auth: false });
    skew = Date.parse(data.generated_at) - Date.now();
    applyStats(data);
    $("updated-at").textContent = `Updated ${wallClock()}`;
    $("updated-at").classList.remove("nr-stale");
  } catch (error) {
    $("updated-at").textContent = `Stats unavailable: ${error.message}`;
    $("updated-at").classList.add("nr-stale");
  }
  setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
}

function setNumber(node, value) {
  const text = typeof value === "number" ? formatNumber(value) : value;
  if (node.textContent === text) return;
  node.textContent = text;
  node.classList.remove("nr-changed");
  void node.offsetWidth; // restart the highlight
  node.classList.add("nr-changed");
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function applyStats(stats) {
  const live = stats.blogs.filter((b) => b.status === "live");
  const ended = stats.blogs.filter((b) => b.status !== "live");
  setNumber($("kpi-readers"), stats.readers.total);
  $("kpi-readers-split").textContent = `SSE ${formatNumber(stats.readers.sse)} · WebSocket ${formatNumber(stats.readers.ws)}`;
  setNumber($("kpi-live"), live.length);
  $("kpi-ended").textContent = `${ended.length} ended`;
  setNumber($("kpi-entries"), live.reduce((sum, b) => sum + b.entries_last_hour, 0));
  $("kpi-p50").textContent = ms(stats.latency.p50_ms);
  $("kpi-p99").textContent = ms(stats.latency.p99_ms);
  $("kpi-samples").textContent = formatNumber(stats.latency.samples);
  setNumber($("kpi-processes"), stats.processes);
  const screens = stats.newsroom_connections;
  $("kpi-newsroom").textContent = screens === 1 ? "1 newsroom screen open" : `${screens} newsroom screens open`;

  const seen = new Set();
  for (const blog of live) {
    seen.add(blog.slug);
    const known = ensureCard(blog);
    known.blog = blog;
    // The server's answer, unless an entry arrived on the socket since it was computed.
    const reported = blog.last_entry_at ? Date.parse(blog.last_entry_at) : null;
    if (known.liveEntryAt && (reported === null || known.liveEntryAt > reported)) {
      known.lastEntryAt = known.liveEntryAt;
    } else {
      known.lastEntryAt = reported;
      known.liveEntryAt = null;
    }
    known.createdAt = Date.parse(blog.created_at || "") || null;
    updateCard(known);
  }
  for (const slug of [...blogs.keys()]) {
    if (!seen.has(slug)) dropCard(slug);
  }
  renderEnded(ended);
  $("live-empty").hidden = live.length > 0;
  tick();
}

function renderEnded(ended) {
  $("ended-section").hidden = ended.length === 0;
  $("ended-list").replaceChildren(
    ...ended.map((b) =>
      el(
        "li",
        { className: "nr-ended__item" },
        el("span", { className: "nr-dot nr-dot--ended", "aria-hidden": "true" }),
        el("a", { href: `/blogs/${encodeURIComponent(b.slug)}` }, b.title),
        el("span", { className: "nr-muted nr-small" }, b.last_entry_at ? `last entry ${shortTime(b.last_entry_at, b)} ${zoneName(b)}` : "no entries"),
      ),
    ),
  );
}

// --- blog cards -------------------------------------------------------------------------

function ensureCard(blog) {
  let known = blogs.get(blog.slug);
  if (known) return known;
  const card = $("blog-card").content.firstElementChild.cloneNode(true);
  card.dataset.slug = blog.slug;
  const title = card.querySelector("[data-role=title]");
  title.href = `/blogs/${encodeURIComponent(blog.slug)}`;
  card.querySelector("[data-role=edit]").href = `/editor?blog=${encodeURIComponent(blog.slug)}`;
  known = { blog, card, entries: [], lastEntryAt: null, liveEntryAt: null, createdAt: null };
  blogs.set(blog.slug, known);
  insertCard(known);
  loadLatest(known, { subscribe: true });
  return known;
}

function insertCard(known) {
  const grid = $("live-grid");
  const title = known.blog.title.toLowerCase();
  const before = [...grid.children].find((c) => blogs.get(c.dataset.slug)?.blog.title.toLowerCase() > title);
  grid.insertBefore(known.card, before || null);
}

function dropCard(slug) {
  const known = blogs.get(slug);
  if (!known) return;
  known.card.remove();
  blogs.delete(slug);
  socket.unsubscribe(slug);
}

/** The newest entries, then the socket from the position they reflect: nothing in between lost. */
async function loadLatest(known, { subscribe = false } = {}) {
  const slug = known.blog.slug;
  try {
    const { data } = await api("GET", `${blogPath(slug)}/entries?limit=${LATEST}`, { auth: false });
    if (blogs.get(slug) !== known) return;
    known.entries = data.entries;
    renderLatest(known);
    if (subscribe) socket.subscribe(slug, data.last_event_id);
    else socket.adopt(slug, data.last_event_id);
  } catch {
    setTimeout(() => blogs.get(slug) === known && loadLatest(known, { subscribe }), 3000);
  }
}

function updateCard(known) {
  const { blog, card } = known;
  card.querySelector("[data-role=title]").textContent = blog.title;
  setNumber(card.querySelector("[data-role=readers]"), blog.readers);
  setNumber(card.querySelector("[data-role=hour]"), blog.entries_last_hour);
}

function renderLatest(known, fresh = new Set()) {
  const list = known.card.querySelector("[data-role=latest]");
  list.replaceChildren(
    ...known.entries.map((entry) => {
      const breaking = entry.labels.includes("breaking");
      return el(
        "li",
        { className: `nr-latest__item${breaking ? " nr-latest__item--breaking" : ""}${fresh.has(entry.id) ? " nr-latest__item--new" : ""}`, dataset: { id: entry.id } },
        el("time", { className: "nr-latest__time", datetime: entry.published_at, title: zoneName(known.blog) }, shortTime(entry.published_at, known.blog)),
        el("span", { className: "nr-latest__title" }, entryTitle(entry, 80)),
        breaking ? el("span", { className: "label label--breaking" }, "Breaking") : null,
        entry.pinned ? el("span", { className: "label label--pinned" }, "Pinned") : null,
      );
    }),
  );
  known.card.querySelector("[data-role=latest-empty]").hidden = known.entries.length > 0;
  list.dataset.zone = zoneName(known.blog); // shown after the list: the zone of its times
}

// --- live events ------------------------------------------------------------------------

function onEvent(event) {
  const known = blogs.get(event.blog);
  if (!known) return;
  const { type, data } = event;
  if (type === "entry.created" || type === "entry.updated") {
    const others = known.entries.filter((e) => e.id !== data.id);
    const wasShown = others.length !== known.entries.length;
    const oldest = known.entries[known.entries.length - 1];
    if (wasShown || type === "entry.created" || known.entries.length < LATEST || keyOf(data) > keyOf(oldest)) {
      known.entries = [...others, data].sort((a, b) => (keyOf(a) < keyOf(b) ? 1 : -1)).slice(0, LATEST);
    }
    const published = Date.parse(data.published_at);
    if (type === "entry.created" && published <= serverNow()) {
      known.liveEntryAt = Math.max(known.liveEntryAt || 0, published);
      known.lastEntryAt = Math.max(known.lastEntryAt || 0, published);
    }
    renderLatest(known, type === "entry.created" ? new Set([data.id]) : new Set());
    tick();
  } else if (type === "entry.deleted") {
    const before = known.entries.length;
    known.entries = known.entries.filter((e) => e.id !== data.id);
    known.liveEntryAt = null; // the newest may be gone: the next stats answer says
    if (known.entries.length !== before) loadLatest(known); // refill the list from the API
  } else if (type === "blog.updated") {
    known.blog = { ...known.blog, title: data.title, status: data.status };
    if (data.status !== "live") dropCard(data.slug);
    else updateCard(known);
  } else if (type === "reset") {
    loadLatest(known);
  }
}

// --- the clock --------------------------------------------------------------------------

function tick() {
  const now = serverNow();
  for (const known of blogs.values()) {
    const since = known.lastEntryAt ? (now - known.lastEntryAt) / 1000 : null;
    const quietFor = since ?? (known.createdAt ? (now - known.createdAt) / 1000 : null);
    let level = "ok";
    if (quietFor !== null && quietFor >= thresholds.red) level = "red";
    else if (quietFor !== null && quietFor >= thresholds.amber) level = "amber";
    const box = known.card.querySelector("[data-role=quiet-box]");
    box.dataset.quiet = level;
    known.card.dataset.quiet = level;
    known.card.querySelector("[data-role=since]").textContent = since === null ? "none yet" : `${duration(since)} ago`;
  }
}

socket.start();
poll();
setInterval(tick, 1000);
