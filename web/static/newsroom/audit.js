// The audit log screen (admins): who did what and when, newest first, filtered by blog and by
// person, page by page. Entry events open the entry's history (where a version is restored).

import { api, token } from "./api.js";
import { openHistory } from "./history.js";
import { el, shortTime, toast } from "./ui.js";

const $ = (id) => document.getElementById(id);
const ROLES = { contributor: "Contributor", editor: "Editor", admin: "Admin" };
const PAGE = 50;

const state = { next: null, blogs: new Map(), people: new Map(), loading: null };

const quote = (text) => (text ? `“${text}”` : "an entry");

/** One event in a sentence. */
function sentence(event) {
  const d = event.detail || {};
  const headline = quote(d.headline);
  switch (event.action) {
    case "token.created":
      return `Added ${d.name} as ${(ROLES[d.role] || d.role || "").toLowerCase()}${d.blogs ? ` of ${d.blogs.join(", ")}` : ""}`;
    case "token.updated": {
      const what = Object.entries(d.changes || {}).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(", ") : v ?? "none"}`);
      return `Changed ${d.name}${what.length ? `: ${what.join("; ")}` : ""}`;
    }
    case "token.revoked":
      return `Revoked the token of ${d.name}`;
    case "blog.created":
      return d.imported ? `Imported the blog ${quote(d.title)} (${d.entries} entries${d.from ? `, from ${d.from}` : ""})` : `Created the blog ${quote(d.title)}`;
    case "blog.updated":
      return `Changed the blog: ${Object.entries(d).map(([k, v]) => `${k} ${v}`).join("; ") || "no change"}`;
    case "entry.created":
      return `Wrote ${headline}${d.status && d.status !== "published" ? ` (${d.status})` : ""}`;
    case "entry.updated":
      return `Edited ${headline}${d.fields ? ` (${d.fields.join(", ")})` : ""}`;
    case "entry.published":
      return `Published ${headline}`;
    case "entry.returned":
      return `Sent ${headline} back${d.note ? `: ${d.note}` : ""}`;
    case "entry.deleted":
      return `Deleted ${headline}`;
    case "entry.restored":
      return `Restored version ${d.from_version} of ${headline}`;
    case "media.uploaded":
      return `Uploaded a photo${d.width ? ` (${d.width} × ${d.height})` : ""}`;
    default:
      return event.action;
  }
}

function row(event) {
  const who = event.by.name || "someone";
  const kind = event.action.startsWith("token.") ? "token" : event.action;
  const where = [el("span", { className: "nr-audit__action", dataset: { kind } }, event.action)];
  if (event.blog) where.push(el("span", {}, `blog ${state.blogs.get(event.blog)?.title || event.blog}`));
  if (event.by.token_id) where.push(el("span", {}, `token ${event.by.token_id}`));
  if (event.entry && event.blog) {
    where.push(el("button", { type: "button", className: "nr-btn nr-btn--small nr-btn--ghost", dataset: { blog: event.blog, entry: event.entry } }, "History"));
  }
  return el(
    "li",
    { className: "nr-audit__event", dataset: { action: event.action } },
    el("time", { className: "nr-audit__when", datetime: event.at, title: new Date(event.at).toString() }, shortTime(event.at)),
    el("div", { className: "nr-audit__what" }, el("span", { className: "nr-audit__who" }, who), " ", sentence(event), el("div", { className: "nr-audit__where" }, ...where)),
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
    toast(`The log cannot be read now: ${error.messages?.join(" ") || error.message}`, { kind: "error" });
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
  $("me-role").textContent = ROLES[me.role] || me.role;
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
