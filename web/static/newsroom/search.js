// The console's search box over the blog's entries of every status (GET ...entries?q=&status=all).
// Results are a snapshot, shown in place of the live list until the search is cleared: live
// events keep the list underneath current, and never slip into the results.

import { renderEntry } from "../reader/render.js";
import { ApiError, api, blogPath } from "./api.js";
import { contentAttributes } from "./form.js";
import { t, tn } from "./i18n.js";
import { el, isolated, shortTime } from "./ui.js";

const PAGE_SIZE = 30;
const WORD = /[\p{L}\p{N}]/u; // what the server searches for: a query without one is refused
const STATUS_TEXT = { published: () => t("Published"), submitted: () => t("Awaiting approval"), draft: () => t("Draft"), scheduled: () => t("Scheduled") };

export class EntrySearch {
  /**
   * @param {object} options
   * @param {string} options.slug
   * @param {HTMLFormElement} options.form the search box
   * @param {HTMLElement} options.results where results go (hidden when there is no search)
   * @param {HTMLElement} options.section the entries section, marked while results show
   */
  constructor({ slug, form, results, section }) {
    Object.assign(this, { slug, form, results, section });
    this.input = form.elements.namedItem("q");
    this.summary = results.querySelector("[data-role=summary]");
    this.list = results.querySelector("[data-role=list]");
    this.older = results.querySelector("[data-role=older]");
    this.query = "";
    this.next = null;
    this.asked = 0; // answers to an older question are dropped
    this.onSubmit = (event) => {
      event.preventDefault();
      this.search(this.input.value);
    };
    this.onClear = () => this.clear();
    this.onOlder = () => this.loadOlder();
    this.onKey = (event) => {
      if (event.key === "Escape" && this.query) this.clear();
    };
  }

  start() {
    this.clear();
    this.form.addEventListener("submit", this.onSubmit);
    this.input.addEventListener("keydown", this.onKey);
    this.results.querySelector("[data-role=clear]").addEventListener("click", this.onClear);
    this.older.addEventListener("click", this.onOlder);
  }

  stop() {
    this.clear();
    this.form.removeEventListener("submit", this.onSubmit);
    this.input.removeEventListener("keydown", this.onKey);
    this.results.querySelector("[data-role=clear]").removeEventListener("click", this.onClear);
    this.older.removeEventListener("click", this.onOlder);
  }

  /** Back to the live list. */
  clear() {
    this.asked += 1;
    this.query = "";
    this.next = null;
    this.input.value = "";
    this.list.replaceChildren();
    this.results.hidden = true;
    this.section.classList.remove("nr-entries--searching");
  }

  async search(text) {
    if (!text.trim()) {
      this.clear();
      return;
    }
    this.query = text;
    this.list.replaceChildren();
    this.results.hidden = false;
    this.section.classList.add("nr-entries--searching");
    this.older.hidden = true;
    if (!WORD.test(text)) {
      this.asked += 1;
      this.summary.textContent = t("Nothing to search for: type a word (letters or digits).");
      return;
    }
    this.summary.textContent = t("Searching…");
    await this.fetchPage(null);
  }

  async loadOlder() {
    if (!this.next) return;
    this.older.disabled = true;
    try {
      await this.fetchPage(this.next);
    } finally {
      this.older.disabled = false;
    }
  }

  async fetchPage(cursor) {
    const asked = ++this.asked;
    const params = new URLSearchParams({ q: this.query, status: "all", limit: String(PAGE_SIZE) });
    if (cursor) params.set("before", cursor);
    try {
      const { data } = await api("GET", `${blogPath(this.slug)}/entries?${params}`);
      if (asked !== this.asked) return;
      for (const entry of data.entries) this.list.append(this.renderResult(entry));
      this.next = data.next;
      this.older.hidden = !data.next;
      const query = isolated(`“${this.query}”`);
      this.summary.textContent = data.total
        ? tn(
          "%(count)s entry matches %(query)s, of every status, newest first. Results do not change live: search again to refresh.",
          "%(count)s entries match %(query)s, of every status, newest first. Results do not change live: search again to refresh.",
          data.total,
          { query },
        )
        : t("No entry matches %(query)s.", { query });
    } catch (error) {
      if (asked !== this.asked) return;
      const why = error instanceof ApiError && error.status === 422 ? error.messages.join(" ") : error.message;
      this.summary.textContent = t("Could not search: %(reason)s", { reason: why });
    }
  }

  renderResult(entry) {
    const status = entry.status || "published";
    const meta = [`v${entry.version}`];
    if (entry.updated_at) meta.push(t("edited %(time)s", { time: shortTime(entry.updated_at) }));
    return el(
      "article",
      { className: "nr-entry nr-search-result", dataset: { id: entry.id, status } },
      el("div", { className: "nr-entry__view", ...contentAttributes() }, renderEntry(entry)),
      el(
        "div",
        { className: "nr-entry__bar" },
        el("span", { className: `nr-badge nr-search-status nr-search-status--${status}` }, STATUS_TEXT[status]?.() ?? status),
        el("span", { className: "nr-entry__version" }, meta.join(" · ")),
      ),
    );
  }
}
