// Who else has the blog open, and what each of them edits. The newsroom stream brings the
// people (`presence` events, workflow.js); this console says what it edits with
// PUT /api/blogs/{slug}/presence. The console shows the others in the blog's header and marks
// the entries they edit, so nobody starts on an entry a colleague has open.

import { api, blogPath } from "./api.js";
import { t } from "./i18n.js";
import { el } from "./ui.js";

const AVATARS = 5; // shown; the rest are counted

function initials(name) {
  const letters = String(name || "").split(/\s+/).map((word) => word.match(/\p{L}/u)?.[0]).filter(Boolean);
  return letters.slice(0, 2).join("").toUpperCase() || "?";
}

export function avatar(person, className = "nr-avatar nr-avatar--small") {
  if (person.avatar_url) return el("img", { className, src: person.avatar_url, alt: "", width: 24, height: 24 });
  return el("span", { className: `${className} nr-avatar--initials`, "aria-hidden": "true" }, initials(person.name));
}

export class Presence extends EventTarget {
  constructor() {
    super();
    this.slug = null;
    this.me = null; // the signed-in token's id: not "someone else"
    this.people = [];
    this.editing = null; // the entry this console edits
    this.sent = undefined; // what the server was told last (undefined: nothing yet)
  }

  /** A blog was chosen: nobody is known there until its stream says. */
  reset(slug, me) {
    if (this.editing && this.slug && this.slug !== slug) this.tell(this.slug, null);
    this.slug = slug;
    this.me = me;
    this.people = [];
    this.editing = null;
    this.sent = undefined;
    this.changed();
  }

  /** A `presence` event of the blog's newsroom stream. */
  update(people) {
    this.people = Array.isArray(people) ? people : [];
    this.changed();
  }

  /** The people other than this person. */
  get others() {
    return this.people.filter((p) => p.token_id !== this.me);
  }

  /** Who else edits `entryId` (people). */
  editorsOf(entryId) {
    return this.others.filter((p) => p.editing === entryId);
  }

  /** This console edits `entryId` now (null: nothing). */
  edit(entryId) {
    this.editing = entryId;
    this.tell(this.slug, entryId);
  }

  done(entryId) {
    if (this.editing === entryId) this.edit(null);
  }

  /** The stream is back: the server forgot what this console edits if it was its last one. */
  resend() {
    if (this.editing) {
      this.sent = undefined;
      this.tell(this.slug, this.editing);
    }
  }

  async tell(slug, entryId) {
    if (!slug || (slug === this.slug && this.sent === entryId)) return;
    if (slug === this.slug) this.sent = entryId;
    try {
      const { data } = await api("PUT", `${blogPath(slug)}/presence`, { body: { editing: entryId } });
      if (slug === this.slug) this.update(data.people);
    } catch {
      if (slug === this.slug) this.sent = undefined; // said again when the stream is back
    }
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }
}

/** The others on the blog, as avatars with names for screen readers and a tooltip. */
export function renderPeople(root, presence, titleOf) {
  const others = presence.others;
  root.hidden = others.length === 0;
  if (!others.length) {
    root.replaceChildren();
    return;
  }
  const label = t("Also on this blog:");
  const items = others.slice(0, AVATARS).map((person) => {
    const title = titleOf(person.editing);
    const text = person.editing
      ? title
        ? t("%(name)s is editing “%(title)s”", { name: person.name, title })
        : t("%(name)s is editing an entry", { name: person.name })
      : t("%(name)s has this blog open", { name: person.name });
    return el(
      "li",
      { className: `nr-presence__person${person.editing ? " nr-presence__person--editing" : ""}`, title: text, dataset: { token: person.token_id } },
      avatar(person),
      el("span", { className: "visually-hidden" }, text),
    );
  });
  const more = others.length > AVATARS ? el("li", { className: "nr-presence__more" }, t("+%(count)s more", { count: others.length - AVATARS })) : null;
  root.replaceChildren(el("span", { className: "nr-presence__label" }, label), el("ul", { className: "nr-presence__people" }, ...items, more));
}

/** Put the mark on a card (or take it off): the card being edited here keeps its form. */
export function placeMark(card, people) {
  card.querySelector(":scope > [data-role=editing-mark]")?.remove();
  const mark = editingMark(people);
  if (mark) card.prepend(mark);
}

/** The mark on an entry someone else edits ("Ann is editing"), or null. */
export function editingMark(people) {
  if (!people.length) return null;
  const names = people.map((p) => p.name).join(", ");
  return el(
    "p",
    { className: "nr-editing-mark", dataset: { role: "editing-mark" } },
    ...people.slice(0, 3).map((p) => avatar(p)),
    el("span", {}, people.length === 1 ? t("%(name)s is editing this entry", { name: names }) : t("%(names)s are editing this entry", { names })),
  );
}
