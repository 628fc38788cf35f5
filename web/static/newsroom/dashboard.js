// The newsroom dashboard: every live blog on one /ws socket, and /api/stats every few seconds
// for what only the server knows (readers on every process, entries per hour, latency).

import { entryTitle } from "../reader/render.js";
import { orderKey } from "../reader/times.js";
import { api, blogPath } from "./api.js";
import { installable } from "./pwa.js";
import { MultiBlogSocket } from "./socket.js";
import { t, tn } from "./i18n.js";
import { duration, el, formatNumber, shortTime, wallClock, zoneName } from "./ui.js";

const $ = (id) => document.getElementById(id);
const LATEST = 5;
const POLL_MS = 2000;
const SOCKET_TEXT = { connecting: () => t("Connecting…"), live: () => t("Live"), reconnecting: () => t("Reconnecting…") };

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
  pill.querySelector("[data-role=text]").textContent = SOCKET_TEXT[s]?.() || s;
});

const serverNow = () => Date.now() + skew;
const keyOf = (e) => orderKey(e.published_at, e.id);

// --- stats ------------------------------------------------------------------------------

async function poll() {
  try {
    const { data } = await api("GET", "/api/stats", { auth: false });
    skew = Date.parse(data.generated_at) - Date.now();
    applyStats(data);
    $("updated-at").textContent = t("Updated %(time)s", { time: wallClock() });
    $("updated-at").classList.remove("nr-stale");
  } catch (error) {
    $("updated-at").textContent = t("Stats unavailable: %(reason)s", { reason: error.message });
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
  $("kpi-ended").textContent = t("%(count)s ended", { count: ended.length });
  setNumber($("kpi-entries"), live.reduce((sum, b) => sum + b.entries_last_hour, 0));
  $("kpi-p50").textContent = ms(stats.latency.p50_ms);
  $("kpi-p99").textContent = ms(stats.latency.p99_ms);
  $("kpi-samples").textContent = formatNumber(stats.latency.samples);
  setNumber($("kpi-processes"), stats.processes);
  const screens = stats.newsroom_connections;
  $("kpi-newsroom").textContent = tn("%(count)s newsroom screen open", "%(count)s newsroom screens open", screens);

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
        el("span", { className: "nr-muted nr-small" }, b.last_entry_at ? t("last entry %(time)s", { time: `${shortTime(b.last_entry_at, b)} ${zoneName(b)}` }) : t("no entries")),
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
  drawChart(card, blog);
}

// --- readers over the last hour -----------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 240;
const HEIGHT = 48;

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** A point a minute for the last hour (the server sums every process), with its peak marked. */
function drawChart(card, blog) {
  const points = blog.readers_last_hour || [];
  const plot = card.querySelector("[data-role=plot]");
  const caption = card.querySelector("[data-role=chart-caption]");
  const key = `${points.join(",")}|${blog.readers_peak}`;
  if (!points.length || plot.dataset.drawn === key) return;
  plot.dataset.drawn = key;
  const top = Math.max(1, blog.readers_peak || 0);
  const step = WIDTH / Math.max(1, points.length - 1);
  const xy = points.map((value, i) => [i * step, HEIGHT - 2 - (value / top) * (HEIGHT - 6)]);
  const line = xy.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join(" ");
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", class: "nr-chart__svg", "aria-hidden": "true", focusable: "false" });
  chart.append(
    svg("path", { d: `${line} L${WIDTH} ${HEIGHT} L0 ${HEIGHT} Z`, class: "nr-chart__area" }),
    svg("path", { d: line, class: "nr-chart__line" }),
  );
  const peakAt = blog.readers_peak_at ? Date.parse(blog.readers_peak_at) : null;
  if (blog.readers_peak) {
    const index = points.lastIndexOf(blog.readers_peak);
    const [x, y] = xy[index];
    chart.append(svg("path", { d: `M${x.toFixed(1)} ${HEIGHT} L${x.toFixed(1)} ${y.toFixed(1)}`, class: "nr-chart__peak" }));
  }
  plot.replaceChildren(chart);
  // The hour's ends on the blog's clock, as every time of the blog is written (ui.js).
  const now = serverNow();
  const first = now - (points.length - 1) * 60000;
  const stamp = (at) => el("time", { dateTime: new Date(at).toISOString() }, shortTime(new Date(at), blog));
  card.querySelector("[data-role=axis]").replaceChildren(stamp(first), el("span", { className: "nr-chart__zone" }, zoneName(blog)), stamp(now));
  if (!blog.readers_peak) {
    caption.textContent = t("Readers, last hour: none yet");
  } else {
    const ago = peakAt === null ? 0 : Math.max(0, (now - peakAt) / 1000);
    caption.textContent = ago < 60
      ? t("Readers, last hour: peak %(peak)s, this minute", { peak: formatNumber(blog.readers_peak) })
      : t("Readers, last hour: peak %(peak)s at %(time)s, %(ago)s ago", { peak: formatNumber(blog.readers_peak), time: shortTime(new Date(peakAt), blog), ago: duration(ago) });
  }
  card.querySelector("[data-role=chart]").dataset.peak = String(blog.readers_peak || 0);
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
        breaking ? el("span", { className: "label label--breaking" }, t("Breaking")) : null,
        entry.pinned ? el("span", { className: "label label--pinned" }, t("Pinned")) : null,
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
    known.card.querySelector("[data-role=since]").textContent = since === null ? t("none yet") : t("%(time)s ago", { time: duration(since) });
  }
}

socket.start();
poll();
setInterval(tick, 1000);
installable();
