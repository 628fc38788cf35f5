// The audit log screen (admins): who did what and when, newest first, filtered by blog and by
// person, page by page. Entry events open the entry's history (where a version is restored).

import { currentZone } from "../reader/times.js";
import { api, token } from "./api.js";
import { statusText } from "./diff.js";
import { openHistory } from "./history.js";
import { t } from "./i18n.js";
import { installable } from "./pwa.js";
import { el, isolated, shortTime, toast, zoneName } from "./ui.js";

const $ = (id) => document.getElementById(id);
const ROLES = { contributor: () => t("Contributor"), editor: () => t("Editor"), admin: () => t("Admin") };
// "as an editor": a role inside a sentence.
const AS_ROLE = { contributor: () => t("as a contributor"), editor: () => t("as an editor"), admin: () => t("as an admin") };
const PAGE = 50;

const state = { next: null, blogs: new Map(), people: new Map(), loading: null };

const quote = (text) => (text ? isolated(`“${text}”`) : t("an entry"));
const none = (v) => (Array.isArray(v) ? v.join(", ") : v ?? t("none"));

/** One event in a sentence. */
function sentence(event) {
  // People's words (names, notes, a server's address) isolated in the sentence; headlines and
  // titles are quoted, which isolates them with their quotes.
  const own = (k, v) => typeof v === "string" && ["name", "note", "from"].includes(k);
  const d = Object.fromEntries(Object.entries(event.detail || {}).map(([k, v]) => [k, own(k, v) ? isolated(v) : v]));
  const headline = quote(d.headline);
  switch (event.action) {
    case "token.created": {
      const role = AS_ROLE[d.role]?.() || d.role || "";
      return d.blogs
        ? t("Added %(name)s %(role)s of %(blogs)s", { name: d.name, role, blogs: d.blogs.join(", ") })
        : t("Added %(name)s %(role)s", { name: d.name, role });
    }
    case "token.updated": {
      // The changed fields as the API names them (role, blogs, expires_at): what an admin types.
      const what = Object.entries(d.changes || {}).map(([k, v]) => `${k} ${none(v)}`);
      return what.length ? t("Changed %(name)s: %(what)s", { name: d.name, what: what.join("; ") }) : t("Changed %(name)s", { name: d.name });
    }
    case "token.revoked":
      return t("Revoked the token of %(name)s", { name: d.name });
    case "blog.created":
      if (!d.imported) return t("Created the blog %(title)s", { title: quote(d.title) });
      return d.from
        ? t("Imported the blog %(title)s (%(count)s entries, from %(from)s)", { title: quote(d.title), count: d.entries, from: d.from })
        : t("Imported the blog %(title)s (%(count)s entries)", { title: quote(d.title), count: d.entries });
    case "blog.updated": {
      const what = Object.entries(d).map(([k, v]) => `${k} ${v}`).join("; ");
      return what ? t("Changed the blog: %(what)s", { what }) : t("Changed the blog: no change");
    }
    case "entry.created":
      return d.status && d.status !== "published" ? t("Wrote %(headline)s (%(status)s)", { headline, status: statusText(d.status) }) : t("Wrote %(headline)s", { headline });
    case "entry.updated":
      return d.fields ? t("Edited %(headline)s (%(fields)s)", { headline, fields: d.fields.join(", ") }) : t("Edited %(headline)s", { headline });
    case "entry.published":
      return t("Published %(headline)s", { headline });
    case "entry.returned":
      return d.note ? t("Sent %(headline)s back: %(note)s", { headline, note: d.note }) : t("Sent %(headline)s back", { headline });
    case "entry.deleted":
      return t("Deleted %(headline)s", { headline });
    case "entry.restored":
      return t("Restored version %(version)s of %(headline)s", { version: d.from_version, headline });
    case "media.uploaded":
      return d.width ? t("Uploaded a photo (%(width)s × %(height)s)", { width: d.width, height: d.height }) : t("Uploaded a photo");
    default:
      return event.action;
  }
}

function row(event) {
  const who = event.by.name || t("someone");
  const blog = event.blog ? state.blogs.get(event.blog) : null;
  const kind = event.action.startsWith("token.") ? "token" : event.action;
  const where = [el("span", { className: "nr-audit__action", dataset: { kind } }, event.action)];
  if (event.blog) where.push(el("span", {}, t("blog %(title)s", { title: blog?.title || event.blog })));
  if (event.by.token_id) where.push(el("span", {}, t("token %(id)s", { id: event.by.token_id })));
  if (event.entry && event.blog) {
    where.push(el("button", { type: "button", className: "nr-btn nr-btn--small nr-btn--ghost", dataset: { blog: event.blog, entry: event.entry } }, t("History")));
  }
  return el(
    "li",
    { className: "nr-audit__event", dataset: { action: event.action } },
    // A blog's event on the blog's clock, as its entries are written; the others on this
    // browser's, named (the shared time module, ui.js).
    el(
      "time",
      { className: "nr-audit__when", datetime: event.at },
      `${shortTime(event.at, blog || undefined)} ${blog ? zoneName(blog) : currentZone().name(new Date(event.at))}`,
    ),
    el("div", { className: "nr-audit__what" }, el("span", { className: "nr-audit__who", dir: "auto" }, who), " ", sentence(event), el("div", { className: "nr-audit__where" }, ...where)),
  );
}

function filters() {
  const form = $("audit-filters");
  return { blog: form.elements.blog.value, by: form.elements.by.value };
}

function remember(events) {
  const select = $("audit-filters").elements.by;
  for (const event of events) {
    const id = event.by.token_id;
    if (id && !state.people.has(id)) {
      state.people.set(id, event.by.name);
      select.append(el("option", { value: id }, `${event.by.name} (${id})`));
    }
  }
}

async function load({ more = false } = {}) {
  const { blog, by } = filters();
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (blog) params.set("blog", blog);
  if (by) params.set("by", by);
  if (more && state.next) params.set("before", state.next);
  const request = (state.loading = api("GET", `/api/audit?${params}`));
  let data;
  try {
    ({ data } = await request);
  } catch (error) {
    toast(t("The log cannot be read now: %(reason)s", { reason: error.messages?.join(" ") || error.message }), { kind: "error" });
    return;
  }
  if (request !== state.loading) return; // the filters changed meanwhile
  remember(data.events);
  const list = $("audit-list");
  if (more) list.append(...data.events.map(row));
  else list.replaceChildren(...data.events.map(row));
  state.next = data.next;
  $("audit-more").hidden = !data.next;
  $("audit-empty").hidden = list.children.length > 0;
}

function syncUrl() {
  const url = new URL(window.location.href);
  for (const [name, value] of Object.entries(filters())) {
    if (value) url.searchParams.set(name, value);
    else url.searchParams.delete(name);
  }
  history.replaceState(null, "", url);
}

async function start() {
  if (!token.get()) {
    $("audit-signin").hidden = false;
    return;
  }
  let me;
  try {
    me = (await api("GET", "/api/me")).data;
  } catch {
    $("audit-signin").hidden = false;
    return;
  }
  $("me-name").textContent = me.name;
  $("me-role").textContent = ROLES[me.role]?.() || me.role;
  if (me.role !== "admin") {
    $("audit-signin").hidden = false;
    return;
  }
  $("audit-app").hidden = false;
  const form = $("audit-filters");
  const [blogs, people] = await Promise.all([api("GET", "/api/blogs"), api("GET", "/api/tokens")]);
  for (const blog of blogs.data.blogs) {
    state.blogs.set(blog.slug, blog);
    form.elements.blog.append(el("option", { value: blog.slug }, blog.title));
  }
  for (const person of people.data.tokens) {
    state.people.set(person.id, person.name);
    form.elements.by.append(el("option", { value: person.id }, `${person.name} (${person.id})`));
  }
  const wanted = new URLSearchParams(window.location.search);
  for (const name of ["blog", "by"]) {
    const value = wanted.get(name);
    if (!value) continue;
    if (name === "by" && !state.people.has(value)) form.elements.by.append(el("option", { value }, value));
    form.elements[name].value = value;
  }
  form.addEventListener("change", () => {
    syncUrl();
    load();
  });
  $("audit-more").addEventListener("click", () => load({ more: true }));
  $("audit-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-entry]");
    if (button) openHistory({ slug: button.dataset.blog, entryId: button.dataset.entry, onRestored: () => load() });
  });
  await load();
}

start();
installable();
