// Alerts: what a person should hear of without watching the queue (a new contribution, their
// entry published or sent back, a scheduled entry gone out). A toast always; a sound and a
// desktop notification as each person chooses, remembered by this browser.

import { t } from "./i18n.js";
import { toast } from "./ui.js";

const KEY = "liveblog.alerts";
const ICON = "/static/newsroom/icon-192.png";

function load() {
  try {
    const kept = JSON.parse(localStorage.getItem(KEY) || "{}");
    return { sound: Boolean(kept.sound), desktop: Boolean(kept.desktop) };
  } catch {
    return { sound: false, desktop: false };
  }
}

let audio = null;

/** Two short rising notes, made on the spot (no sound file to fetch, nothing to cache). */
function chime() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  audio ??= new Context();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  const start = audio.currentTime + 0.01;
  [880, 1320].forEach((frequency, index) => {
    const at = start + index * 0.16;
    const tone = audio.createOscillator();
    const volume = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    volume.gain.setValueAtTime(0.0001, at);
    volume.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
    tone.connect(volume).connect(audio.destination);
    tone.start(at);
    tone.stop(at + 0.32);
  });
}

// A browser lets a page play sound only after a click or a key on it: the first one unlocks it.
window.addEventListener("pointerdown", () => audio?.state === "suspended" && audio.resume().catch(() => {}), { capture: true });

export const alerts = {
  settings: load(),

  get desktopAvailable() {
    return "Notification" in window;
  },

  get desktopBlocked() {
    return this.desktopAvailable && Notification.permission === "denied";
  },

  set(name, on) {
    this.settings = { ...this.settings, [name]: on };
    localStorage.setItem(KEY, JSON.stringify(this.settings));
  },

  /** Sound on (from a click: it also unlocks the page's sound) or off. */
  setSound(on) {
    this.set("sound", on);
    if (on) chime();
  },

  /** Desktop notifications on: the browser asks the person once. False if refused. */
  async setDesktop(on) {
    if (on && this.desktopAvailable && Notification.permission !== "granted") {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") on = false;
    }
    this.set("desktop", on && this.desktopAvailable);
    return this.settings.desktop;
  },

  /** Tell the person: a toast, and the sound and notification they chose. */
  notify({ title, body = "", kind = "info", tag = undefined }) {
    toast(body ? `${title} ${body}` : title, { kind });
    if (this.settings.sound) chime();
    if (this.settings.desktop && this.desktopAvailable && Notification.permission === "granted") {
      try {
        const note = new Notification(title, { body, tag, icon: ICON, lang: document.documentElement.lang });
        note.onclick = () => {
          window.focus();
          note.close();
        };
      } catch {
        // Some browsers show notifications only from a service worker: the toast said it.
      }
    }
  },
};

/** The words of an alert of the newsroom stream (workflow.js says which). */
export function alertText(kind, entry) {
  const title = entry.headline || "";
  switch (kind) {
    case "contribution":
      return {
        title: t("New contribution to approve"),
        body: title ? t("“%(title)s”, by %(author)s", { title, author: entry.author || "?" }) : t("By %(author)s", { author: entry.author || "?" }),
      };
    case "scheduled":
      return { title: t("A scheduled entry went out"), body: title ? t("“%(title)s” is on the blog.", { title }) : "" };
    case "published":
      return { title: t("Your entry is published"), body: title ? t("“%(title)s” is on the blog.", { title }) : "" };
    case "sent-back":
      return { title: t("Your entry was sent back"), body: entry.note ? t("The editor's note: %(note)s", { note: entry.note }) : "", kind: "error" };
    default:
      return { title: kind, body: title };
  }
}
