// One update's own page (and its embed frame): the page is complete without this; here its
// times follow the reader's zone choice, "Share" opens the share sheet or copies the link,
// embeds load on a click, and a frame fits its content.

import { localizeTimes, refreshRelativeTimes } from "./reader/clocks.js";
import { reportHeight } from "./reader/frame.js";
import { enableEmbeds, onEmbedClick } from "./reader/media.js";
import { enableShare } from "./reader/share.js";
import { zoneSwitch } from "./reader/zone.js";

const root = document.getElementById("entry-page");
if (root) {
  const announcer = document.getElementById("announcer");
  const announce = (text) => {
    if (announcer) announcer.textContent = text;
  };
  const redraw = () => {
    localizeTimes(document);
    refreshRelativeTimes();
  };
  redraw();
  setInterval(refreshRelativeTimes, 60_000);
  zoneSwitch(document.getElementById("lb-zone"), redraw);
  enableEmbeds(document);
  root.addEventListener("click", onEmbedClick);
  enableShare(root, announce);
  if (root.dataset.mode === "entry-embed") reportHeight();
}
