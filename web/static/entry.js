// One update's own page (and its embed frame): the page is complete without this; here its
// times follow the reader's zone choice, "Share" opens the share sheet or copies the link,
// embeds load on a click, and a frame fits its content. As on the live blog's page
// (reader.js), the zone switch, sharing and a frame's height come when they are needed.

import { enableEmbeds, onEmbedClick } from "./reader/media.js";
import { localizeTimes, ownZoneDiffers, refreshRelativeTimes } from "./reader/times.js";

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
  if (ownZoneDiffers()) {
    import("./reader/zone.js").then(({ zoneSwitch }) => zoneSwitch(document.getElementById("lb-zone"), redraw), () => {});
  }
  enableEmbeds(document);
  root.addEventListener("click", onEmbedClick);
  // Sharing comes with the first Share used; later ones run in the click itself.
  let sharing = null;
  root.addEventListener("click", (event) => {
    const link = event.target.closest("a.entry__share");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // a new tab
    event.preventDefault();
    if (sharing) {
      sharing.share(link, announce);
      return;
    }
    import("./reader/share.js").then(
      (module) => (sharing = module).share(link, announce),
      () => window.location.assign(link.href), // not to be had (offline): the link's own page
    );
  });
  if (root.dataset.mode === "entry-embed") {
    import("./reader/frame.js").then(({ reportHeight }) => reportHeight(), () => {});
  }
}
