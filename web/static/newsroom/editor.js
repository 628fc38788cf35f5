// The editor console: sign in, pick a blog, compose, and keep the blog's entries in view.

import { renderEntry } from "../reader/render.js";
import { onAccessEnded } from "./access.js";
import { ApiError, api, blogPath, token } from "./api.js";
import { EntryList } from "./entries.js";
import { EntryForm } from "./form.js";
import { Outbox } from "./outbox.js";
import { EntrySearch } from "./search.js";
import { MultiBlogSocket } from "./socket.js";
import { mountDeleted } from "./deleted.js";
import { confirmDialog, el, toast, useBlogTimes } from "./ui.js";
import { Workflow } from "./workflow.js";

const $ = (id) => document.getElementById(id);
// Drafts and the byline are kept per token (`liveblog.draft.<token id>.<blog>`), like the
// outbox: another editor signing in on this device never gets them.
const DRAFT_PREFIX = "liveblog.draft.";
const AUTHOR_PREFIX = "liveblog.author.";
const SAVED_TEXT = {
  draft: "Draft saved in the newsroom: readers do not see it.",
  submitted: "Submitted: an editor approves it before readers see it.",
  scheduled: "Scheduled: the server publishes it at its time.",
};
const ROLE_TEXT = { admin: "Admin", editor: "Editor", contributor: "Contributor" };
const STREAM_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

const state = {
  me: null,
  blogs: [],
  slug: null,
  list: null,
  workflow: null,
  composer: null,
  outbox: new Outbox(),
  ticker: null,
  socket: null,
  search: null, // the entries search box (search.js)
};

// --- signing in -------------------------------------------------------------------------

async function signIn(secret, { quiet = false } = {}) {
  const error = $("signin-error");
  error.hidden = true;
  token.set(secret);
  try {
    state.me = (await api("GET", "/api/me")).data;
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) {
      token.clear();
      showSignIn(quiet ? "" : "That token is not valid. Check it and try again.");
    } else {
      // Keep the token: the server is away, not the editor's right to use it.
      showSignIn(`The server cannot be reached (${failure.message}). Trying again…`);
      setTimeout(() => token.get() && signIn(token.get(), { quiet: true }), 3000);
    }
    return;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = ROLE_TEXT[state.me.role] || state.me.role;
  $("new-blog").hidden = state.me.role !== "admin";
  document.querySelector("[data-role=people-link]").hidden = state.me.role !== "admin";
  document.querySelector("[data-role=audit-link]").hidden = state.me.role !== "admin";
  state.composer.setRole(state.me.role);
  state.outbox.open(state.me.id, secret);
  if (!state.socket.started) state.socket.start();
  await loadBlogs();
  state.outbox.retryAll();
}

function showSignIn(message) {
  $("app").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("token-input").focus();
}

/** This token's drafts on this device: [localStorage key, blog slug]. */
function storedDrafts() {
  if (!state.me) return [];
  const prefix = `${DRAFT_PREFIX}${state.me.id}.`;
  const found = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (key?.startsWith(prefix)) found.push([key, key.slice(prefix.length)]);
  }
  return found;
}

function unsentSummary(entries, drafts) {
  const parts = [];
  if (entries) parts.push(entries === 1 ? "1 entry not yet published" : `${entries} entries not yet published`);
  if (drafts) parts.push(drafts === 1 ? "1 draft" : `${drafts} drafts`);
  return parts.join(" and ");
}

/** Sign out. What this token left unsent is deleted from the device: asked first. */
async function signOut() {
  const entries = state.outbox.items.length;
  const drafts = storedDrafts();
  if (entries || drafts.length) {
    const confirmed = await confirmDialog({
      title: "Delete unsent work and sign out?",
      message: `This device holds ${unsentSummary(entries, drafts.length)} of yours. Signing out deletes them: nobody else signing in here can send or see them.`,
      confirm: "Delete and sign out",
      danger: true,
    });
    if (!confirmed) return;
  }
  for (const [key] of storedDrafts()) localStorage.removeItem(key);
  if (state.me) localStorage.removeItem(authorKey());
  state.outbox.close({ discard: true });
  state.composer.clear({ keepAuthor: false });
  $("draft-state").textContent = "";
  token.clear();
  state.list?.stop();
  state.list = null;
  state.workflow?.stop();
  state.workflow = null;
  state.slug = null;
  state.me = null;
  $("token-input").value = "";
  showSignIn("");
}

// --- blogs ------------------------------------------------------------------------------

function mayEdit(blog) {
  const me = state.me;
  return me.role === "admin" || me.blogs === null || me.blogs.includes(blog.slug);
}

async function loadBlogs() {
  const { data } = await api("GET", "/api/blogs");
  state.blogs = data.blogs.filter(mayEdit);
  state.blogs.sort((a, b) => (a.status === b.status ? a.title.localeCompare(b.title) : a.status === "live" ? -1 : 1));
  renderBlogList();
  const wanted = new URLSearchParams(window.location.search).get("blog");
  const chosen = state.blogs.find((b) => b.slug === wanted) || state.blogs.find((b) => b.status === "live") || state.blogs[0];
  if (chosen) await selectBlog(chosen.slug);
  else showNoBlog();
}

function renderBlogList() {
  const list = $("blog-list");
  list.replaceChildren(
    ...state.blogs.map((blog) => {
      const pending = state.outbox.items.filter((i) => i.blog === blog.slug).length;
      const link = el(
        "a",
        { href: `?blog=${encodeURIComponent(blog.slug)}`, className: "nr-blogs__link", "aria-current": blog.slug === state.slug ? "page" : null, dataset: { slug: blog.slug } },
        el("span", { className: `nr-dot nr-dot--${blog.status}`, "aria-hidden": "true" }),
        el("span", { className: "nr-blogs__title" }, blog.title),
        pending ? el("span", { className: "nr-count nr-count--warn", title: "Entries not yet published" }, String(pending)) : null,
        el("span", { className: "visually-hidden" }, blog.status === "live" ? " (live)" : " (ended)"),
      );
      return el("li", {}, link);
    }),
  );
  $("blogs-empty").hidden = state.blogs.length > 0;
}

function showNoBlog() {
  $("blog-view").hidden = true;
  $("no-blog").hidden = false;
}

async function selectBlog(slug) {
  if (state.slug === slug && state.list) return;
  state.list?.stop();
  state.workflow?.stop();
  state.workflow = new Workflow({
    slug,
    me: state.me,
    root: $("workflow"),
    formTemplate: $("entry-form"),
    onPublished: (entry) => state.list?.upsert(entry),
  });
  state.workflow.start().catch((error) => toast(`Could not load the newsroom: ${error.message}`, { kind: "error" }));
  state.slug = slug;
  const url = new URL(window.location.href);
  url.searchParams.set("blog", slug);
  history.replaceState(null, "", url);
  renderBlogList();
  renderBlogHeader();
  $("no-blog").hidden = true;
  $("blog-view").hidden = false;
  restoreDraft();
  renderPending();
  const list = new EntryList({
    slug,
    socket: state.socket,
    root: $("entry-list"),
    older: $("load-older"),
    empty: $("entries-empty"),
    formTemplate: $("entry-form"),
    onBlog: (blog) => blogUpdated(blog),
  });
  state.list = list;
  mountDeleted({ slug, after: $("load-older"), onRestored: (entry) => (entry.status === "published" ? state.list : state.workflow)?.upsert(entry) });
  state.search?.stop();
  state.search = new EntrySearch({ slug, form: $("entry-search"), results: $("search-results"), section: $("entry-list").closest("section") });
  state.search.start();
  try {
    await list.start();
  } catch (error) {
    list.stop();
    if (list !== state.list) return;
    if (error instanceof ApiError && error.status === 404) {
      toast("That blog no longer exists.", { kind: "error" });
      state.blogs = state.blogs.filter((b) => b.slug !== slug);
      renderBlogList();
      showNoBlog();
    } else {
      toast(`Could not load the entries: ${error.message}`, { kind: "error" });
      setTimeout(() => {
        if (state.slug === slug) {
          state.list = null;
          selectBlog(slug);
        }
      }, 3000);
    }
  }
}

function currentBlog() {
  return state.blogs.find((b) => b.slug === state.slug);
}

function renderBlogHeader() {
  const blog = currentBlog();
  if (!blog) return;
  const live = blog.status === "live";
  $("blog-title").textContent = blog.title;
  $("blog-desc").textContent = blog.description;
  $("blog-desc").hidden = !blog.description;
  const badge = $("blog-status");
  badge.textContent = live ? "Live" : "Ended";
  badge.className = `nr-badge nr-badge--${blog.status}`;
  $("blog-zone").textContent = useBlogTimes(blog);
  $("blog-reader-link").href = `/blogs/${encodeURIComponent(blog.slug)}`;
  $("blog-toggle").textContent = live ? "End blog" : "Reopen blog";
  $("ended-note").hidden = live;
  document.title = `${blog.title} · Editor`;
}

function blogUpdated(blog) {
  const index = state.blogs.findIndex((b) => b.slug === blog.slug);
  if (index < 0) return;
  state.blogs[index] = blog;
  renderBlogList();
  if (blog.slug === state.slug) renderBlogHeader();
}

async function toggleBlogStatus() {
  const blog = currentBlog();
  if (!blog) return;
  const ending = blog.status === "live";
  if (ending) {
    const confirmed = await confirmDialog({
      title: `End “${blog.title}”?`,
      message: "Readers see that the coverage has ended. You can reopen it later.",
      confirm: "End blog",
      danger: true,
    });
    if (!confirmed) return;
  }
  try {
    const { data } = await api("PATCH", blogPath(blog.slug), { body: { status: ending ? "ended" : "live" } });
    blogUpdated(data);
    toast(ending ? "The blog has ended." : "The blog is live again.");
  } catch (error) {
    toast(`Not changed: ${error.message}`, { kind: "error" });
  }
}

async function createBlog(event) {
  event.preventDefault();
  const form = event.target;
  const errors = form.querySelector("[data-role=errors]");
  const body = {
    slug: form.elements.slug.value.trim(),
    title: form.elements.title.value.trim(),
    description: form.elements.description.value.trim(),
  };
  try {
    const { data } = await api("POST", "/api/blogs", { body });
    $("blog-dialog").close();
    form.reset();
    state.blogs.push(data);
    await selectBlog(data.slug);
    toast(`“${data.title}” is live.`);
  } catch (error) {
    const messages = error.status === 409 ? ["That slug is taken: choose another."] : error.messages;
    errors.replaceChildren(...messages.map((m) => el("p", {}, m)));
    errors.hidden = false;
  }
}

/** "Election night 2024!" -> "election-night-2024", until the editor types a slug themselves. */
function suggestSlug(event) {
  const slug = event.target.form.elements.slug;
  if (slug.dataset.edited) return;
  slug.value = event.target.value
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
}

// --- composing --------------------------------------------------------------------------

function draftKey(slug = state.slug) {
  return `${DRAFT_PREFIX}${state.me.id}.${slug}`;
}

function authorKey() {
  return AUTHOR_PREFIX + state.me.id;
}

function restoreDraft() {
  let draft = null;
  try {
    draft = JSON.parse(localStorage.getItem(draftKey()) || "null");
  } catch {
    draft = null;
  }
  state.composer.fill(draft || { author: localStorage.getItem(authorKey()) || state.me.name });
  $("draft-state").textContent = draft ? "Draft restored" : "";
}

function saveDraft() {
  if (!state.slug || !state.me) return;
  if (state.composer.isEmpty) localStorage.removeItem(draftKey());
  else localStorage.setItem(draftKey(), JSON.stringify(state.composer.values()));
  $("draft-state").textContent = state.composer.isEmpty ? "" : "Draft saved on this device";
}

async function publish(form) {
  if (!state.slug || !state.me) return;
  const blog = state.slug;
  const fields = form.values();
  // Into the outbox (localStorage) first; only then is the composer cleared.
  state.outbox.add(blog, fields, form.payload());
  if (fields.author) localStorage.setItem(authorKey(), fields.author);
  form.clear();
  localStorage.removeItem(draftKey(blog));
  $("draft-state").textContent = "";
  form.focus();
}

// --- the outbox, as the editor sees it --------------------------------------------------

function renderPending() {
  const box = $("pending-list");
  const items = state.outbox.items.filter((i) => i.blog === state.slug);
  box.replaceChildren(...items.map(pendingCard));
  box.hidden = items.length === 0;
  const total = state.outbox.items.length;
  const status = $("outbox-status");
  status.hidden = total === 0;
  status.textContent = total === 1 ? "1 entry not yet published" : `${total} entries not yet published`;
  clearInterval(state.ticker);
  if (items.some((i) => i.state === "waiting")) state.ticker = setInterval(updateCountdowns, 1000);
}

function pendingText(item) {
  if (item.state === "sending") return item.attempts ? `Publishing… (attempt ${item.attempts + 1})` : "Publishing…";
  const reason = item.error?.messages?.join(" ") || "";
  if (item.state === "failed") {
    if (item.error?.status === 401) return "Not published: sign in again to send it.";
    return `Not published: ${reason}`;
  }
  const seconds = Math.max(0, Math.ceil((item.retryAt - Date.now()) / 1000));
  const status = item.error?.status;
  const why = status === 0 ? "the server cannot be reached" : `the server is unavailable (${status})`;
  return `Not published yet: ${why}. Kept on this device; retrying in ${seconds} s (attempt ${item.attempts + 1}).`;
}

function pendingCard(item) {
  const entry = {
    id: `pending-${item.key}`,
    blog: item.blog,
    version: 1,
    published_at: item.fields.published_at || item.createdAt,
    updated_at: null,
    headline: item.fields.headline || null,
    body: item.fields.body,
    author: item.fields.author || null,
    labels: item.fields.labels,
    pinned: item.fields.pinned,
    media: item.fields.media ? [item.fields.media] : [],
  };
  const view = renderEntry(entry);
  view.removeAttribute("id");
  const actions = [];
  if (item.state === "waiting") {
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { outbox: "retry", key: item.key } }, "Retry now"));
  }
  if (item.state === "failed") {
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { outbox: "edit", key: item.key } }, "Edit"));
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost nr-btn--danger-text", dataset: { outbox: "discard", key: item.key } }, "Discard"));
  }
  return el(
    "article",
    { className: `nr-pending nr-pending--${item.state}`, dataset: { key: item.key, state: item.state } },
    el(
      "div",
      { className: "nr-pending__bar" },
      el("span", { className: "nr-pending__icon", "aria-hidden": "true" }),
      el("span", { className: "nr-pending__text", dataset: { role: "pending-text" } }, pendingText(item)),
      ...actions,
    ),
    el("div", { className: "nr-entry__view" }, view),
  );
}

function updateCountdowns() {
  for (const item of state.outbox.items) {
    const node = document.querySelector(`.nr-pending[data-key="${item.key}"] [data-role=pending-text]`);
    if (node) node.textContent = pendingText(item);
  }
}

async function pendingAction(event) {
  const button = event.target.closest("button[data-outbox]");
  if (!button) return;
  const key = button.dataset.key;
  if (button.dataset.outbox === "retry") state.outbox.send(key);
  else if (button.dataset.outbox === "edit") {
    if (!state.composer.isEmpty) {
      toast("Publish or clear what is in the composer first.", { kind: "error" });
      return;
    }
    const item = state.outbox.take(key);
    if (item) {
      state.composer.fill(item.fields);
      saveDraft();
      state.composer.focus();
    }
  } else if (button.dataset.outbox === "discard") {
    const confirmed = await confirmDialog({
      title: "Discard this entry?",
      message: "It was never published. Its text is deleted from this device.",
      confirm: "Discard",
      danger: true,
    });
    if (confirmed) state.outbox.remove(key);
  }
}

function outboxChanged(event) {
  const { published, blog, replayed } = event.detail || {};
  const waiting = published && published.status !== "published";
  if (published && blog === state.slug) (waiting ? state.workflow : state.list)?.upsert(published);
  if (waiting) toast(SAVED_TEXT[published.status] || "Saved.");
  else if (published) toast(replayed ? "Published (the server had it already: no copy made)." : "Published.");
  renderPending();
  renderBlogList();
}

// --- the stream status ------------------------------------------------------------------

let lastStreamState = null;

function setStreamState(s) {
  const pill = $("stream-status");
  pill.dataset.state = s;
  pill.querySelector("[data-role=text]").textContent = STREAM_TEXT[s] || s;
  // The server is back: whatever waits in the outbox goes now, not at its next timer.
  if (s === "live" && lastStreamState && lastStreamState !== "live" && lastStreamState !== "connecting") {
    state.outbox.retryAll();
  }
  lastStreamState = s;
}

// --- start ------------------------------------------------------------------------------

function onSocketEvent(event) {
  if (state.list && event.blog === state.list.slug) state.list.apply(event);
}

function start() {
  state.socket = new MultiBlogSocket(onSocketEvent, setStreamState);
  state.composer = new EntryForm($("entry-form"), {
    submitLabel: "Publish",
    onSubmit: (form) => publish(form),
    onChange: () => saveDraft(),
  });
  state.composer.element.id = "composer";
  $("composer-slot").replaceChildren(state.composer.element);

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const secret = $("token-input").value.trim();
    if (secret) signIn(secret);
  });
  $("sign-out").addEventListener("click", signOut);
  $("blog-list").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-slug]");
    if (!link) return;
    event.preventDefault();
    selectBlog(link.dataset.slug);
  });
  $("blog-toggle").addEventListener("click", toggleBlogStatus);
  $("new-blog").addEventListener("click", () => {
    const form = $("blog-form");
    form.querySelector("[data-role=errors]").hidden = true;
    $("blog-dialog").showModal();
  });
  $("blog-form").addEventListener("submit", createBlog);
  $("blog-form").elements.title.addEventListener("input", suggestSlug);
  $("blog-form").elements.slug.addEventListener("input", (event) => {
    event.target.dataset.edited = event.target.value ? "true" : "";
  });
  $("blog-cancel").addEventListener("click", () => $("blog-dialog").close());
  $("pending-list").addEventListener("click", pendingAction);
  state.outbox.addEventListener("change", outboxChanged);
  state.outbox.addEventListener("unauthorized", () => {
    toast("Your token is no longer accepted (revoked or expired). Unsent entries stay on this device for this token only; signing out deletes them.", { kind: "error" });
  });

  // The server ended this token's access (revoked, expired, or the blog taken off it): say so
  // and stop, rather than reconnect forever. Unsent entries stay on the device (the outbox).
  onAccessEnded(({ reason, sentence }) => {
    state.list?.stop();
    state.workflow?.stop();
    state.list = state.workflow = state.slug = null;
    token.clear();
    if (reason !== "changed") $("token-input").value = ""; // a dead token: nothing to retry
    showSignIn(sentence);
  });

  // A sign-in link from the People screen: /editor#token=… (the fragment never reaches a server).
  const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromLink) history.replaceState(null, "", window.location.pathname + window.location.search);
  const saved = fromLink || token.get();
  if (saved) signIn(saved, { quiet: !fromLink });
  else showSignIn("");
}

start();
