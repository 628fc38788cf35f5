// DOM for one entry, the same markup the server renders (web/templates/_entry.html).
// Text goes in as text; only the entry body, sanitised by the server, goes in as HTML.

import { t } from "./i18n.js";
import { renderMedia } from "./media.js";
import { clock, longDate } from "./times.js";

const LABELS = { key: "Key event", breaking: "Breaking" };

export function labelText(label) {
  const special = LABELS[label];
  if (special) return t(special);
  const words = label.replaceAll("-", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A <time> showing HH:MM local, with the full date as a tooltip. */
export function timeElement(iso, className) {
  const date = new Date(iso);
  const time = el("time", className, clock(date));
  time.dateTime = iso;
  time.dataset.clock = "";
  time.title = longDate(date);
  return time;
}

/** Text of an HTML body without running or loading anything (an inert document). */
export function bodyText(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  return (doc.body.textContent || "").replace(/\s+/g, " ").trim();
}

/** The headline, or the start of the text, as the server's entry_title() does. */
export function entryTitle(entry, length = 90) {
  if (entry.headline) return entry.headline;
  const text = bodyText(entry.body);
  if (text.length <= length) return text;
  const cut = text.slice(0, length - 1);
  const space = cut.lastIndexOf(" ");
  return `${space > 0 ? cut.slice(0, space) : cut}…`;
}

/** `/blogs/<slug>/entries/<id>`: an entry's own page. */
export function entryPath(entry) {
  return `/blogs/${encodeURIComponent(entry.blog)}/entries/${encodeURIComponent(entry.id)}`;
}

export function renderEntry(entry) {
  const article = el("article", "entry");
  if (entry.labels.includes("breaking")) article.classList.add("entry--breaking");
  if (entry.pinned) article.classList.add("entry--pinned");
  article.id = `entry-${entry.id}`;
  article.dataset.id = entry.id;
  article.dataset.published = entry.published_at;
  article.dataset.version = String(entry.version);
  article.tabIndex = -1;

  const side = el("div", "entry__time");
  const permalink = el("a", "entry__permalink");
  permalink.href = `#entry-${entry.id}`;
  permalink.title = longDate(new Date(entry.published_at));
  // Named by the time it shows (a name that holds the visible text) and the headline.
  permalink.setAttribute("aria-label", `${clock(new Date(entry.published_at))}: ${entryTitle(entry)}`);
  permalink.append(timeElement(entry.published_at, "entry__clock"));
  const ago = el("span", "entry__ago");
  ago.dataset.ago = entry.published_at;
  side.append(permalink, ago);

  const main = el("div", "entry__main");
  if (entry.pinned || entry.labels.length || entry.updated_at) {
    const meta = el("p", "entry__meta");
    if (entry.pinned) meta.append(el("span", "label label--pinned", t("Pinned")));
    for (const label of entry.labels) {
      meta.append(el("span", `label label--${label}`, labelText(label)));
    }
    if (entry.updated_at) {
      const updated = el("span", "entry__updated", `${t("Updated")} `);
      updated.append(timeElement(entry.updated_at));
      meta.append(updated);
    }
    main.append(meta);
  }
  if (entry.headline) main.append(el("h3", "entry__headline", entry.headline));
  const body = el("div", "entry__body");
  body.innerHTML = entry.body; // sanitised by the server on the way in (allowlist)
  main.append(body);
  for (const media of entry.media) main.append(renderMedia(media, t));
  for (const correction of entry.corrections || []) {
    const note = el("p", "entry__correction", `${t("Corrected")} `);
    note.append(timeElement(correction.at), `: ${correction.text}`);
    main.append(note);
  }
  if (entry.author) {
    const byline = el("p", "entry__author");
    for (const author of entry.authors || []) {
      if (!author.avatar_url) continue;
      const avatar = el("img", "entry__avatar");
      Object.assign(avatar, { src: author.avatar_url, alt: "", width: 28, height: 28, loading: "lazy", decoding: "async" });
      byline.append(avatar);
    }
    byline.append(t("By %(author)s", { author: entry.author }));
    main.append(byline);
  }
  if (entry.id && entry.blog) {
    // The entry's own page, the URL it is shared by; share.js offers the share sheet or a copy.
    const share = el("a", "entry__share", t("Share"));
    share.href = entryPath(entry);
    share.setAttribute("aria-label", t("Share: %(title)s", { title: entryTitle(entry) }));
    const actions = el("p", "entry__actions");
    actions.append(share);
    main.append(actions);
  }
  article.append(side, main);
  return article;
}

export function renderKeyEvent(entry) {
  const item = el("li", "key-events__item");
  item.dataset.id = entry.id;
  const link = el("a");
  link.href = `#entry-${entry.id}`;
  link.append(timeElement(entry.published_at), " ", el("span", "key-events__title", entryTitle(entry)));
  item.append(link);
  return item;
}
