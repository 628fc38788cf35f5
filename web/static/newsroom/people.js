// The People screen (admins): add a person (the token is shown once, with a sign-in link),
// change a person's role and blogs, revoke. Uses the token the editor console signed in with.

import { api, token } from "./api.js";
import { confirmDialog, el, toast, wallDate } from "./ui.js";

const $ = (id) => document.getElementById(id);
const ROLES = { contributor: "Contributor", editor: "Editor", admin: "Admin" };

const state = { blogs: [], people: [] };

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function avatar(person) {
  if (person.avatar_url) return el("img", { className: "nr-avatar", src: person.avatar_url, alt: "", width: 32, height: 32 });
  return el("span", { className: "nr-avatar nr-avatar--initials", "aria-hidden": "true" }, initials(person.name));
}

function seen(person) {
  if (!person.last_used_at) return "never";
  return wallDate(new Date(person.last_used_at));
}

function blogChoices(container, chosen, name) {
  container.replaceChildren(
    ...state.blogs.map((blog) =>
      el("label", { className: "nr-chip" }, el("input", { type: "checkbox", name, value: blog.slug, ...(chosen?.includes(blog.slug) ? { checked: true } : {}) }), el("span", {}, blog.title)),
    ),
  );
}

function row(person) {
  const role = el("select", { className: "nr-input nr-input--small", "aria-label": `Role of ${person.name}`, dataset: { id: person.id, field: "role" } },
    ...Object.entries(ROLES).map(([value, text]) => el("option", { value, ...(value === person.role ? { selected: true } : {}) }, text)));
  const blogs = el("div", { className: "nr-people__row-blogs", dataset: { id: person.id } });
  const all = el("label", { className: "nr-chip" }, el("input", { type: "checkbox", dataset: { id: person.id, field: "all" }, ...(person.blogs === null ? { checked: true } : {}) }), el("span", {}, "Every blog"));
  const some = el("span", {});
  blogChoices(some, person.blogs, `blogs-${person.id}`);
  some.hidden = person.blogs === null;
  blogs.append(all, some);
  return el("tr", { dataset: { id: person.id, role: person.role } },
    el("td", {}, el("div", { className: "nr-people__who" }, avatar(person), el("div", {}, el("strong", {}, person.name), el("div", { className: "nr-muted nr-small" }, `id ${person.id}`)))),
    el("td", {}, role),
    el("td", {}, blogs),
    el("td", { className: "nr-small" }, seen(person)),
    el("td", {}, el("button", { type: "button", className: "nr-btn nr-btn--small nr-btn--ghost nr-btn--danger-text", dataset: { revoke: person.id } }, "Revoke")),
  );
}

function render() {
  $("people-list").replaceChildren(...state.people.map(row));
}

async function load() {
  const [blogs, people] = await Promise.all([api("GET", "/api/blogs"), api("GET", "/api/tokens")]);
  state.blogs = blogs.data.blogs;
  state.people = people.data.tokens;
  blogChoices(document.querySelector("[data-role=blog-choices]"), [], "blogs");
  document.querySelector("[data-role=blog-choices]").hidden = true;
  render();
}

async function change(id, body) {
  try {
    const { data } = await api("PATCH", `/api/tokens/${encodeURIComponent(id)}`, { body });
    state.people = state.people.map((p) => (p.id === id ? data : p));
    toast(`${data.name}: saved.`);
  } catch (error) {
    toast(`Not changed: ${error.messages.join(" ")}`, { kind: "error" });
  }
  render();
}

function chosenBlogs(container, name) {
  return [...container.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

async function onListChange(event) {
  const target = event.target;
  const id = target.dataset.id || target.name?.replace(/^blogs-/, "");
  if (target.dataset.field === "role") return change(id, { role: target.value });
  const cell = target.closest(".nr-people__row-blogs");
  if (!cell) return;
  const all = cell.querySelector("[data-field=all]").checked;
  cell.querySelector("span").hidden = all;
  await change(cell.dataset.id, { blogs: all ? null : chosenBlogs(cell, `blogs-${cell.dataset.id}`) });
}

async function onListClick(event) {
  const button = event.target.closest("[data-revoke]");
  if (!button) return;
  const person = state.people.find((p) => p.id === button.dataset.revoke);
  const confirmed = await confirmDialog({
    title: `Revoke ${person.name}’s token?`,
    message: "They are signed out everywhere at once. Their entries stay.",
    confirm: "Revoke",
    danger: true,
  });
  if (!confirmed) return;
  try {
    await api("DELETE", `/api/tokens/${encodeURIComponent(person.id)}`);
    state.people = state.people.filter((p) => p.id !== person.id);
    render();
    toast(`${person.name} can no longer sign in.`);
  } catch (error) {
    toast(`Not revoked: ${error.messages.join(" ")}`, { kind: "error" });
  }
}

async function addPerson(event) {
  event.preventDefault();
  const form = event.target;
  const errors = form.querySelector("[data-role=errors]");
  const all = form.elements.all_blogs.checked;
  const body = { name: form.elements.name.value.trim(), role: form.elements.role.value, blogs: all ? null : chosenBlogs(form, "blogs") };
  if (form.elements.avatar_url.value.trim()) body.avatar_url = form.elements.avatar_url.value.trim();
  try {
    const { data } = await api("POST", "/api/tokens", { body });
    errors.hidden = true;
    form.reset();
    document.querySelector("[data-role=blog-choices]").hidden = true;
    const box = $("new-secret");
    box.querySelector("[data-role=who]").textContent = data.name;
    box.querySelector("[data-role=token]").textContent = data.token;
    box.querySelector("[data-role=link]").textContent = `${window.location.origin}/editor#token=${data.token}`;
    box.hidden = false;
    const { data: listed } = await api("GET", "/api/tokens");
    state.people = listed.tokens;
    render();
  } catch (error) {
    errors.replaceChildren(...error.messages.map((m) => el("p", {}, m)));
    errors.hidden = false;
  }
}

async function copy(event) {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = $("new-secret").querySelector(`[data-role=${button.dataset.copy}]`).textContent;
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied.");
  } catch {
    toast("Copy it by hand: select the text.", { kind: "error" });
  }
}

async function start() {
  if (!token.get()) {
    $("people-signin").hidden = false;
    return;
  }
  let me;
  try {
    me = (await api("GET", "/api/me")).data;
  } catch {
    $("people-signin").hidden = false;
    return;
  }
  $("me-name").textContent = me.name;
  $("me-role").textContent = ROLES[me.role] || me.role;
  if (me.role !== "admin") {
    $("people-signin").hidden = false;
    return;
  }
  $("people-app").hidden = false;
  $("person-form").addEventListener("submit", addPerson);
  $("person-form").elements.all_blogs.addEventListener("change", (event) => {
    document.querySelector("[data-role=blog-choices]").hidden = event.target.checked;
  });
  $("people-list").addEventListener("change", onListChange);
  $("people-list").addEventListener("click", onListClick);
  $("new-secret").addEventListener("click", copy);
  await load();
}

start();
