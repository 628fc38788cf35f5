// The zone switch in the page's header: times in the blog's zone (as the server wrote them) or
// in the reader's own. The server renders the blog zone's name alone (complete without
// JavaScript); this turns it into two buttons, the one in use pressed. The choice is kept in
// this browser only (times.js) and applies to every live blog.

import { t } from "./i18n.js";
import { chooseOwnZone, OWN_ZONE, ownZoneChosen, PAGE_ZONE, timesIn } from "./times.js";

/**
 * @param {HTMLElement | null} box the server's `#lb-zone`, with the blog zone's name
 * @param {() => void} redraw draws every time on the page again, in the zone now in use
 */
export function zoneSwitch(box, redraw) {
  if (!box || !PAGE_ZONE) return;
  const own = timesIn(OWN_ZONE);
  // Nothing to choose between for a reader in the blog's zone.
  if (own.zone === timesIn(PAGE_ZONE).zone) return;
  const blogButton = button(box.dataset.zoneName, "blog");
  const ownButton = button(t("My time"), "own");
  ownButton.title = own.name();
  const group = document.createElement("span");
  group.className = "lb-zone__switch";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", t("Time zone"));
  group.append(blogButton, ownButton);
  const show = () => {
    const chosen = ownZoneChosen();
    blogButton.setAttribute("aria-pressed", String(!chosen));
    ownButton.setAttribute("aria-pressed", String(chosen));
  };
  group.addEventListener("click", (event) => {
    const clicked = event.target.closest("button");
    if (!clicked) return;
    chooseOwnZone(clicked.dataset.zone === "own");
    show();
    redraw();
  });
  box.replaceChildren(group);
  show();
}

function button(text, zone) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "lb-zone__option";
  node.dataset.zone = zone;
  node.textContent = text;
  return node;
}
