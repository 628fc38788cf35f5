// The editor console: sign in, pick a blog, compose, and keep the blog's entries in view.

import { entryTitle, renderEntry } from "../reader/render.js";
import { accessSentence, onAccessEnded, reasonOf } from "./access.js";
import { ApiError, api, blogPath, token } from "./api.js";
import { EntryList } from "./entries.js";
import { directionOf, t, tn, wireLanguageChoice } from "./i18n.js";
import { renderable } from "./embeds.js";
import { EntryForm, mediaList, setContentLanguage } from "./form.js";
import { Outbox } from "./outbox.js";
import { alertText, alerts } from "./alerts.js";
import { Presence, renderPeople } from "./presence.js";
import { installable } from "./pwa.js";
import { EntrySearch } from "./search.js";
import { MultiBlogSocket } from "./socket.js";
import { mountDeleted } from "./deleted.js";
import { confirmDialog, el, toast, useBlogTimes } from "./ui.js";
import { Workflow } from "./workflow.js";

const $ = (id) => document.getElementById(id);

// A sign-in link from the People screen: /editor#token=… (the fragment never reaches a
// server). Taken out of the address first thing, so it stays in no history entry.
const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("token");
if (fromLink) history.replaceState(null, "", window.location.pathname + window.location.search);
// Drafts and the byline are kept per token (`liveblog.draft.<token id>.<blog>`), like the
// outbox: another editor signing in on this device never gets them.
const DRAFT_PREFIX = "liveblog.draft.";
const AUTHOR_PREFIX = "liveblog.author.";
// Who signed in and their blogs, as last read from the server: a console opened without a
// network (from the home screen, on a train) still shows the composer and its outbox.
const SESSION_KEY = "liveblog.session";
const SAVED_TEXT = {
  draft: () => t("Draft saved in the newsroom: readers do not see it."),
  submitted: () => t("Submitted: an editor approves it before readers see it."),
  scheduled: () => t("Scheduled: the server publishes it at its time."),
};
export const ROLE_TEXT = { admin: () => t("Admin"), editor: () => t("Editor"), contributor: () => t("Contributor") };
const STREAM_TEXT = { connecting: () => t("Connecting…"), live: () => t("Live"), reconnecting: () => t("Reconnecting…"), offline: () => t("Offline") };

const state = {
  me: null,
  blogs: [],
  slug: null,
  list: null,
  workflow: null,
  composer: null,
  outbox: new Outbox(),
  presence: new Presence(),
  waiting: 0, // contributions in the queue: the tab's title counts them
  ticker: null,
  socket: null,
  search: null, // the entries search box (search.js)
};

// --- signing in -------------------------------------------------------------------------

async function signIn(secret, { quiet = false } = {}) {
  const error = $("signin-error");
  error.hidden = true;
  token.set(secret);
  let offline = false;
  try {
    state.me = (await api("GET", "/api/me")).data;
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) {
      token.clear();
      localStorage.removeItem(SESSION_KEY);
      // A token kept from before (revoked or expired since): say why, as access.js says it.
      const why = `${accessSentence(reasonOf(401, failure.headers))} ${t("Ask an admin for a new sign-in link.")}`;
      showSignIn(quiet ? why : t("That token is not valid. Check it and try again."));
      return;
    }
    // Keep the token: the server is away, not the editor's right to use it.
    const kept = await keptSession(secret);
    if (!kept) {
      showSignIn(t("The server cannot be reached (%(reason)s). Trying again…", { reason: failure.message }));
      setTimeout(() => token.get() && signIn(token.get(), { quiet: true }), 3000);
      return;
    }
    state.me = kept.me;
    offline = true;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = ROLE_TEXT[state.me.role]?.() || state.me.role;
  $("me-avatar").textContent = initials(state.me.name);
  $("new-blog").hidden = state.me.role !== "admin";
  document.querySelector("[data-role=people-link]").hidden = state.me.role !== "admin";
  document.querySelector("[data-role=audit-link]").hidden = state.me.role !== "admin";
  state.composer.setRole(state.me.role);
  state.outbox.open(state.me.id, secret);
  if (!state.socket.started) state.socket.start();
  await loadBlogs();
  state.outbox.retryAll();
  if (offline) waitForServer(secret);
}

/** The session kept for this very token, or null (another token's is never used). */
async function keptSession(secret) {
  let kept = null;
  try {
    kept = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
  if (!kept?.me?.id || !crypto.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
  const id = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 12);
  return kept.me.id === id ? kept : null;
}

function keepSession() {
  if (state.me) localStorage.setItem(SESSION_KEY, JSON.stringify({ me: state.me, blogs: state.blogs }));
}

/** Opened without a network: ask again until the server answers, then refresh who we are. */
function waitForServer(secret) {
  const again = async () => {
    if (token.get() !== secret || !state.me) return;
    try {
      state.me = (await api("GET", "/api/me")).data;
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) return; // access.js ended it
      setTimeout(again, 3000);
      return;
    }
    await loadBlogs();
  };
  setTimeout(again, 3000);
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
  if (entries) parts.push(tn("%(count)s entry not yet published", "%(count)s entries not yet published", entries));
  if (drafts) parts.push(tn("%(count)s unfinished entry", "%(count)s unfinished entries", drafts));
  return parts.length === 2 ? t("%(first)s and %(second)s", { first: parts[0], second: parts[1] }) : parts[0] || "";
}

/** Sign out. What this token left unsent is deleted from the device: asked first. */
async function signOut() {
  const entries = state.outbox.items.length;
  const drafts = storedDrafts();
  if (entries || drafts.length) {
    const confirmed = await confirmDialog({
      title: t("Delete unsent work and sign out?"),
      message: t("This device holds %(what)s of yours. Signing out deletes them: nobody else signing in here can send or see them.", { what: unsentSummary(entries, drafts.length) }),
      confirm: t("Delete and sign out"),
      danger: true,
    });
    if (!confirmed) return;
  }
  for (const [key] of storedDrafts()) localStorage.removeItem(key);
  if (state.me) localStorage.removeItem(authorKey());
  leave({ discard: true });
}

/**
 * This browser leaves the session: no token, no session kept, nothing sent any more.
 * `discard` deletes what the token left unsent (signing out asked first); `message` says why.
 */
function leave({ discard = false, message = "", keepToken = false } = {}) {
  localStorage.removeItem(SESSION_KEY);
  state.outbox.close({ discard });
  state.composer.clear({ keepAuthor: false });
  $("draft-state").textContent = "";
  if (!keepToken) token.clear(); // (another tab already changed it: leave it be)
  state.list?.stop();
  state.list = null;
  state.workflow?.stop();
  state.workflow = null;
  state.slug = null;
  state.me = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("token-input").value = "";
  showSignIn(message);
}

/**
 * The server no longer accepts this token for this blog (access.js: revoked, expired, or the
 * blog taken off it): the session ends at once and says why. Unsent work stays on this device,
 * for this token; a token that still opens other blogs stays in the field, one click away.
 */
function endSession({ reason, sentence, secret }) {
  if (!state.me || (secret && secret !== token.get())) return;
  const unsent = state.outbox.items.length;
  const parts = [sentence];
  if (reason !== "changed") parts.push(t("Ask an admin for a new sign-in link."));
  if (unsent) parts.push(tn("%(count)s unsent entry stays on this device.", "%(count)s unsent entries stay on this device.", unsent));
  const current = token.get();
  leave({ message: parts.join(" ") });
  if (reason === "changed") $("token-input").value = current;
}

/** Another tab signed out, or signed in as someone else: this one follows. */
function tokenChangedElsewhere(event) {
  if (event.key !== token.key || event.newValue === event.oldValue) return;
  if (!event.newValue) {
    if (state.me) leave({ message: t("You signed out in another tab."), keepToken: true });
    return;
  }
  if (state.me) leave({ keepToken: true }); // someone else on this browser now
  signIn(event.newValue, { quiet: true });
}

// --- blogs ------------------------------------------------------------------------------

function mayEdit(blog) {
  const me = state.me;
  return me.role === "admin" || me.blogs === null || me.blogs.includes(blog.slug);
}

async function loadBlogs() {
  try {
    const { data } = await api("GET", "/api/blogs");
    state.blogs = data.blogs.filter(mayEdit);
    state.blogs.sort((a, b) => (a.status === b.status ? a.title.localeCompare(b.title) : a.status === "live" ? -1 : 1));
    keepSession();
  } catch (failure) {
    if (!(failure instanceof ApiError) || failure.status !== 0) throw failure;
    const kept = await keptSession(token.get());
    state.blogs = kept?.blogs || [];
  }
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
        el("span", { className: "nr-blogs__title", dir: "auto", lang: blog.language }, blog.title),
        pending ? el("span", { className: "nr-count nr-count--warn", title: t("Entries not yet published") }, String(pending)) : null,
        el("span", { className: "visually-hidden" }, blog.status === "live" ? t(" (live)") : t(" (ended)")),
      );
      return el("li", {}, link);
    }),
  );
  $("blogs-empty").hidden = state.blogs.length > 0;
  $("blogs-current").textContent = currentBlog()?.title || "";
}

/** On a phone the blog list folds away; the button opens it, choosing a blog folds it again. */
function toggleBlogs(open = $("blogs-toggle").getAttribute("aria-expanded") !== "true") {
  $("blogs-toggle").setAttribute("aria-expanded", String(open));
  document.querySelector(".nr-sidebar").classList.toggle("nr-sidebar--open", open);
}

function showNoBlog() {
  $("blog-view").hidden = true;
  $("no-blog").hidden = false;
}

async function selectBlog(slug) {
  if (state.slug === slug && state.list) return;
  state.list?.stop();
  state.workflow?.stop();
  state.presence.reset(slug, state.me.id);
  state.waiting = 0;
  state.workflow = new Workflow({
    slug,
    me: state.me,
    root: $("workflow"),
    formTemplate: $("entry-form"),
    onPublished: (entry) => state.list?.upsert(entry),
    presence: state.presence,
    onConnected: () => state.presence.resend(),
    onAlert: (kind, entry) => alerts.notify({ ...alertText(kind, entry), tag: `${slug}:${entry.id}` }),
    onWaiting: (count) => {
      state.waiting = count;
      updateTitle();
    },
  });
  state.workflow.start().catch((error) => {
    if (!(error instanceof ApiError && error.status === 0)) toast(t("Could not load the newsroom: %(reason)s", { reason: error.message }), { kind: "error" });
  });
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
    // A contributor changes no published entry (docs/api.md, Roles): no buttons to offer.
    mayChange: state.me.role !== "contributor",
    presence: state.presence,
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
    const offline = error instanceof ApiError && error.status === 0;
    if (error instanceof ApiError && error.status === 404) {
      toast(t("That blog no longer exists."), { kind: "error" });
      state.blogs = state.blogs.filter((b) => b.slug !== slug);
      renderBlogList();
      showNoBlog();
    } else {
      // Offline, the stream pill says so; the composer and the outbox work all the same.
      if (!offline) toast(t("Could not load the entries: %(reason)s", { reason: error.message }), { kind: "error" });
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
  for (const id of ["blog-title", "blog-desc", "blogs-current"]) $(id).lang = blog.language;
  // What is written for the blog (composer, edits, previews, entries) is in its language and
  // goes in its direction; the console's own words stay in the person's.
  setContentLanguage(blog.language, directionOf(blog.language));
  $("blog-zone").textContent = useBlogTimes(blog); // before the forms: their times are the blog's
  state.composer.applyLanguage();
  const editable = state.me.role !== "contributor";
  $("blog-toggle").hidden = !editable;
  $("blog-settings").hidden = !editable;
  const badge = $("blog-status");
  badge.textContent = live ? t("Live") : t("Ended");
  badge.className = `nr-badge nr-badge--${blog.status}`;
  $("blog-reader-link").href = `/blogs/${encodeURIComponent(blog.slug)}`;
  $("blog-toggle").textContent = live ? t("End blog") : t("Reopen blog");
  $("ended-note").hidden = live;
  updateTitle();
  $("blogs-current").textContent = blog.title;
}

/** "(3) Election night · Editor": the tab says how many contributions wait, from afar. */
function updateTitle() {
  const blog = currentBlog();
  if (!blog) return;
  const count = state.waiting ? `(${state.waiting}) ` : "";
  document.title = `${count}${blog.title} · ${t("Editor")}`;
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
      title: t("End “%(title)s”?", { title: blog.title }),
      message: t("Readers see that the coverage has ended. You can reopen it later."),
      confirm: t("End blog"),
      danger: true,
    });
    if (!confirmed) return;
  }
  try {
    const { data } = await api("PATCH", blogPath(blog.slug), { body: { status: ending ? "ended" : "live" } });
    blogUpdated(data);
    toast(ending ? t("The blog has ended.") : t("The blog is live again."));
  } catch (error) {
    toast(t("Not changed: %(reason)s", { reason: error.message }), { kind: "error" });
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
    language: form.elements.language.value,
    time_zone: form.elements.time_zone.value,
  };
  try {
    const { data } = await api("POST", "/api/blogs", { body });
    $("blog-dialog").close();
    form.reset();
    state.blogs.push(data);
    await selectBlog(data.slug);
    toast(t("“%(title)s” is live.", { title: data.title }));
  } catch (error) {
    const messages = error.status === 409 ? [t("That slug is taken: choose another.")] : error.messages;
    errors.replaceChildren(...messages.map((m) => el("p", {}, m)));
    errors.hidden = false;
  }
}

// --- a blog's settings: title, description, language, time zone ---------------------------

/** Every time zone the browser knows, `current` chosen (it stays even if the list lacks it). */
function fillZones(select, current) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zones = [...new Set([current, "UTC", ...known].filter(Boolean))].sort();
  select.replaceChildren(...zones.map((zone) => el("option", { value: zone, selected: zone === current }, zone)));
}

/** The blog's language chosen; one the list lacks (set through the API) is kept as it is. */
function chooseLanguage(select, language) {
  if (![...select.options].some((o) => o.value === language)) select.append(el("option", { value: language }, language));
  select.value = language;
}

function openNewBlog() {
  const form = $("blog-form");
  form.querySelector("[data-role=errors]").hidden = true;
  const zones = form.elements.time_zone;
  if (zones.options.length < 2) fillZones(zones, zones.dataset.default);
  $("blog-dialog").showModal();
}

function openSettings() {
  const blog = currentBlog();
  if (!blog) return;
  const form = $("settings-form");
  form.querySelector("[data-role=errors]").hidden = true;
  form.elements.title.value = blog.title;
  form.elements.description.value = blog.description || "";
  chooseLanguage(form.elements.language, blog.language);
  fillZones(form.elements.time_zone, blog.time_zone);
  $("settings-dialog").showModal();
}

async function saveSettings(event) {
  event.preventDefault();
  const blog = currentBlog();
  const form = event.target;
  const errors = form.querySelector("[data-role=errors]");
  const wanted = {
    title: form.elements.title.value.trim(),
    description: form.elements.description.value.trim(),
    language: form.elements.language.value,
    time_zone: form.elements.time_zone.value,
  };
  const body = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => value !== (blog[key] ?? "")));
  if (!Object.keys(body).length) {
    $("settings-dialog").close();
    return;
  }
  try {
    const { data } = await api("PATCH", blogPath(blog.slug), { body });
    $("settings-dialog").close();
    blogUpdated(data);
    toast(t("Settings saved."));
  } catch (error) {
    errors.replaceChildren(...error.messages.map((m) => el("p", {}, m)));
    errors.hidden = false;
  }
}

// --- the person: language, alerts, help ----------------------------------------------------

function initials(name) {
  // The first letter of the first two words that have one ("admin (LIVEBLOG…)" -> "AL").
  const letters = String(name || "").split(/\s+/).map((word) => word.match(/\p{L}/u)?.[0]).filter(Boolean);
  return letters.slice(0, 2).join("").toUpperCase() || "?";
}

function showAlertSettings() {
  const form = $("me-form");
  form.elements.alert_sound.checked = alerts.settings.sound;
  form.elements.alert_desktop.checked = alerts.settings.desktop;
  form.elements.alert_desktop.disabled = !alerts.desktopAvailable;
  const hint = form.querySelector("[data-role=alerts-hint]");
  hint.textContent = !alerts.desktopAvailable
    ? t("This browser shows no desktop notifications.")
    : alerts.desktopBlocked
      ? t("Notifications are blocked for this site: allow them in the browser's site settings.")
      : state.me?.role === "contributor"
        ? t("You hear when your entry is published or sent back.")
        : t("You hear of new contributions and of scheduled entries going out.");
}

function wireAlerts() {
  const form = $("me-form");
  form.querySelector("[data-role=alerts]").hidden = false;
  form.elements.alert_sound.addEventListener("change", (event) => alerts.setSound(event.target.checked));
  form.elements.alert_desktop.addEventListener("change", async (event) => {
    await alerts.setDesktop(event.target.checked);
    showAlertSettings();
  });
}

function openMe() {
  const dialog = $("me-dialog");
  showAlertSettings();
  dialog.querySelector("[data-role=who]").textContent = state.me.name;
  const role = ROLE_TEXT[state.me.role]?.() || state.me.role;
  const blogs = state.me.blogs === null ? t("every blog") : state.me.blogs.join(", ");
  dialog.querySelector("[data-role=about]").textContent = t("%(role)s of %(blogs)s", { role, blogs });
  dialog.showModal();
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
  $("draft-state").textContent = draft ? t("Unfinished entry restored from this device") : "";
}

function saveDraft() {
  if (!state.slug || !state.me) return;
  if (state.composer.isEmpty) localStorage.removeItem(draftKey());
  else localStorage.setItem(draftKey(), JSON.stringify(state.composer.values()));
  // What is typed is kept on this device until it is sent (a draft on the server is "Save as
  // draft"): the word "draft" stays for that one.
  $("draft-state").textContent = state.composer.isEmpty ? "" : t("Kept on this device");
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
  status.textContent = tn("%(count)s entry not yet published", "%(count)s entries not yet published", total);
  clearInterval(state.ticker);
  if (items.some((i) => i.state === "waiting")) state.ticker = setInterval(updateCountdowns, 1000);
}

function pendingText(item) {
  if (item.state === "sending") return item.attempts ? t("Publishing… (attempt %(attempt)s)", { attempt: item.attempts + 1 }) : t("Publishing…");
  const reason = item.error?.messages?.join(" ") || "";
  if (item.state === "failed") {
    if (item.error?.status === 401) return t("Not published: sign in again to send it.");
    return t("Not published: %(reason)s", { reason });
  }
  const seconds = Math.max(0, Math.ceil((item.retryAt - Date.now()) / 1000));
  const status = item.error?.status;
  const values = { seconds, attempt: item.attempts + 1, status };
  if (status === 0) return t("Not published yet: the server cannot be reached. Kept on this device; retrying in %(seconds)s s (attempt %(attempt)s).", values);
  return t("Not published yet: the server is unavailable (%(status)s). Kept on this device; retrying in %(seconds)s s (attempt %(attempt)s).", values);
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
    media: renderable(mediaList(item.fields.media)),
  };
  const view = renderEntry(entry);
  view.removeAttribute("id");
  const actions = [];
  if (item.state === "waiting") {
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { outbox: "retry", key: item.key } }, t("Retry now")));
  }
  if (item.state === "failed") {
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { outbox: "edit", key: item.key } }, t("Edit")));
    actions.push(el("button", { type: "button", className: "nr-btn nr-btn--ghost nr-btn--danger-text", dataset: { outbox: "discard", key: item.key } }, t("Discard")));
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
      toast(t("Publish or clear what is in the composer first."), { kind: "error" });
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
      title: t("Discard this entry?"),
      message: t("It was never published. Its text is deleted from this device."),
      confirm: t("Discard"),
      danger: true,
    });
    if (confirmed) state.outbox.remove(key);
  }
}

function outboxChanged(event) {
  const { published, blog, replayed } = event.detail || {};
  const waiting = published && published.status !== "published";
  if (published && blog === state.slug) (waiting ? state.workflow : state.list)?.upsert(published);
  if (waiting) toast(SAVED_TEXT[published.status]?.() || t("Saved."));
  else if (published) toast(replayed ? t("Published (the server had it already: no copy made).") : t("Published."));
  renderPending();
  renderBlogList();
}

// --- who else is on the blog --------------------------------------------------------------

/** The headline (or first words) of an entry this console knows, for "Ann is editing …". */
function titleOf(entryId) {
  const entry = state.list?.entries.get(entryId) || state.workflow?.entries.get(entryId);
  return entry ? entryTitle(entry, 60) : "";
}

function presenceChanged() {
  renderPeople($("presence"), state.presence, titleOf);
}

// --- the stream status ------------------------------------------------------------------

let lastStreamState = null;

function setStreamState(s) {
  if (s !== "live" && navigator.onLine === false) s = "offline";
  const pill = $("stream-status");
  pill.dataset.state = s;
  pill.querySelector("[data-role=text]").textContent = STREAM_TEXT[s]?.() || s;
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
    submitLabel: t("Publish"),
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
    toggleBlogs(false);
    selectBlog(link.dataset.slug);
  });
  $("blogs-toggle").addEventListener("click", () => toggleBlogs());
  window.addEventListener("offline", () => setStreamState("offline"));
  $("blog-toggle").addEventListener("click", toggleBlogStatus);
  $("new-blog").addEventListener("click", openNewBlog);
  $("blog-settings").addEventListener("click", openSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  $("settings-form").querySelector("[data-action=close]").addEventListener("click", () => $("settings-dialog").close());
  $("me-button").addEventListener("click", openMe);
  wireAlerts();
  wireLanguageChoice();
  $("blog-form").addEventListener("submit", createBlog);
  $("blog-form").elements.title.addEventListener("input", suggestSlug);
  $("blog-form").elements.slug.addEventListener("input", (event) => {
    event.target.dataset.edited = event.target.value ? "true" : "";
  });
  $("blog-cancel").addEventListener("click", () => $("blog-dialog").close());
  $("pending-list").addEventListener("click", pendingAction);
  state.outbox.addEventListener("change", outboxChanged);
  state.presence.addEventListener("change", presenceChanged);
  window.addEventListener("storage", tokenChangedElsewhere);

  // The one way a session ends from outside (access.js): the server ended this token's access
  // (revoked, expired, or the blog taken off it), told by the newsroom stream's last event, a
  // refused reconnect, or a refusal of any call. Say why and stop, rather than retry forever;
  // unsent entries stay on the device, for this token only.
  onAccessEnded(endSession);
  const saved = fromLink || token.get();
  if (saved) signIn(saved, { quiet: !fromLink });
  else showSignIn("");
}

start();
installable();
