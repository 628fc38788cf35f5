// What changed between two versions of an entry: a word-level diff of its text and headline
// (Myers' O(ND) algorithm over words and the spaces between them), and the list of the other
// fields that changed. Text only: entry HTML is read as text, never put back into the page.

import { t } from "./i18n.js";

const MAX_EDITS = 1500; // words added plus removed past which a text counts as rewritten
const BLOCKS = "p, li, blockquote, h2, h3, h4, pre, figcaption, tr, br";

/** The words and the runs of spaces between them, in order. */
export function words(text) {
  return text.match(/\s+|[^\s]+/g) || [];
}

/** An entry body's text, one line per paragraph (parsed inert: no script runs, nothing loads). */
export function htmlText(html) {
  const doc = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html");
  for (const block of doc.body.querySelectorAll(BLOCKS)) block.after("\n");
  return doc.body.textContent.replace(/[ \t]*\n[ \t\n]*/g, "\n").trim();
}

/**
 * [{op: "=" | "-" | "+", text}] turning `before` into `after`, word by word. A change past
 * MAX_EDITS words is shown as the whole text removed and the whole new one added.
 */
export function diffWords(before, after) {
  const a = words(before || "");
  const b = words(after || "");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const middleA = a.slice(start, endA);
  const middleB = b.slice(start, endB);
  const middle = edits(middleA, middleB) || [
    ...middleA.map((t) => ["-", t]),
    ...middleB.map((t) => ["+", t]),
  ];
  const ops = [...a.slice(0, start).map((t) => ["=", t]), ...middle, ...a.slice(endA).map((t) => ["=", t])];
  return readable(merge(ops));
}

function merge(ops) {
  const parts = [];
  for (const [op, text] of ops) {
    const last = parts[parts.length - 1];
    if (last && last.op === op) last.text += text;
    else parts.push({ op, text });
  }
  return parts;
}

/**
 * A space kept between two changes joins them: "-The minister +Someone else" reads better
 * than "-The +Someone -minister +else". Each run of changes shows what went, then what came.
 */
function readable(parts) {
  const out = [];
  let removed = "";
  let added = "";
  const flush = () => {
    if (removed) out.push({ op: "-", text: removed });
    if (added) out.push({ op: "+", text: added });
    removed = added = "";
  };
  parts.forEach((part, i) => {
    const between = part.op === "=" && !part.text.trim() && (removed || added) && parts[i + 1] && parts[i + 1].op !== "=";
    if (part.op === "-" || between) removed += part.text;
    if (part.op === "+" || between) added += part.text;
    if (part.op === "=" && !between) {
      flush();
      out.push(part);
    }
  });
  flush();
  return out;
}

/** Myers' shortest edit script, or null when it takes more than MAX_EDITS edits. */
function edits(a, b) {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDITS);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = [];
  for (let d = 0; d <= max; d += 1) {
    trace.push(v.slice(offset - d - 1, offset + d + 2)); // the furthest x per diagonal so far
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b);
    }
  }
  return null;
}

function backtrack(trace, a, b) {
  const ops = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d > 0; d -= 1) {
    const seen = trace[d];
    const at = (k) => seen[k + d + 1];
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push(["=", a[x - 1]]);
      x -= 1;
      y -= 1;
    }
    if (down) ops.push(["+", b[y - 1]]);
    else ops.push(["-", a[x - 1]]);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push(["=", a[x - 1]]);
    x -= 1;
    y -= 1;
  }
  return ops.reverse();
}

/** A diff as text with <del> and <ins> marks (text nodes only). */
export function renderDiff(parts) {
  const box = document.createElement("div");
  box.className = "nr-diff";
  for (const part of parts) {
    if (part.op === "=") box.append(part.text);
    else {
      const mark = document.createElement(part.op === "-" ? "del" : "ins");
      mark.className = part.op === "-" ? "nr-diff__del" : "nr-diff__ins";
      mark.textContent = part.text;
      box.append(mark);
    }
  }
  return box;
}

const LABELS = { breaking: () => t("Breaking"), key: () => t("Key event") };
const STATUS = { published: () => t("published"), draft: () => t("draft"), submitted: () => t("waiting for approval"), scheduled: () => t("scheduled") };
export const statusText = (status) => STATUS[status]?.() || status;

function photoText(media) {
  if (!media?.length) return t("none");
  return media
    .map((m) => (m.type === "embed" ? t("embed %(url)s", { url: m.url }) : [m.url, m.caption && `“${m.caption}”`].filter(Boolean).join(" ")))
    .join("; ");
}

const labelText = (labels) => (labels?.length ? labels.map((l) => LABELS[l]?.() || l).join(", ") : t("none"));

/**
 * The fields other than headline and text that differ between two versions, in words:
 * [{field, before, after, time}] (a new correction is listed as it reads; `time`: the values
 * are times, to be written on the blog's clock).
 */
export function fieldChanges(before, after) {
  const changes = [];
  const add = (field, from, to, time = false) => {
    if (from !== to) changes.push({ field, before: from, after: to, time });
  };
  const yes = (value) => (value ? t("yes") : t("no"));
  add(t("Status"), statusText(before.status), statusText(after.status));
  add(t("Labels"), labelText(before.labels), labelText(after.labels));
  add(t("Pinned"), yes(before.pinned), yes(after.pinned));
  add(t("Author"), before.author || t("none"), after.author || t("none"));
  add(t("Photo"), photoText(before.media), photoText(after.media));
  add(t("Time"), before.published_at, after.published_at, true);
  const known = before.corrections?.length || 0;
  for (const correction of (after.corrections || []).slice(known)) {
    changes.push({ field: t("Correction"), before: "", after: correction.text, time: false });
  }
  return changes;
}
