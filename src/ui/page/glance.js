// The run at a glance outside the page: the tab's icon, a desktop notification (asked for) when a service
// breaks and when it is back, and the spec's error while a save of it does not load.

import { kind, phaseText } from "./state.js";

const COLOURS = { ok: "#2a8a3a", busy: "#b7791f", bad: "#c0392b", off: "#777777" };
const ASKED = "pinshare-notify";

/** The whole run's state: "bad" if one is failing, "ok" if all are ready, else "busy". */
export function overall(services) {
  const kinds = Object.values(services).map((s) => kind(s.phase));
  if (kinds.includes("bad")) return "bad";
  return kinds.every((k) => k === "ok") ? "ok" : "busy";
}

/** The tab's icon: a dot in the state's colour (an SVG data URL, which the page's CSP lets in). */
export function favicon(state) {
  const link = document.querySelector('link[rel="icon"]');
  if (link.dataset.state === state) return;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${COLOURS[state]}"/></svg>`;
  link.href = `data:image/svg+xml,${encodeURIComponent(svg)}`;
  link.dataset.state = state;
}

/** Desktop notifications, off until the button is pressed and the browser allows them. */
export class Notifier {
  constructor(button) {
    this.button = button;
    this.last = null; // service -> "bad" or not, from the last snapshot
    this.on = "Notification" in window && Notification.permission === "granted" && localStorage.getItem(ASKED) === "1";
    button.hidden = !("Notification" in window);
    button.addEventListener("click", () => this.toggle());
    this.label();
  }

  async toggle() {
    if (this.on) {
      this.on = false;
      localStorage.removeItem(ASKED);
    } else {
      const answer = await Notification.requestPermission();
      this.on = answer === "granted";
      if (this.on) localStorage.setItem(ASKED, "1");
      else this.button.title = "the browser refused notifications for this page";
    }
    this.label();
  }

  label() {
    this.button.textContent = this.on ? "notifications: on" : "notify me";
    this.button.setAttribute("aria-pressed", String(this.on));
  }

  /** Tells of each service that broke or came back since the last snapshot. */
  update(project, services) {
    const now = {};
    for (const [name, s] of Object.entries(services)) now[name] = kind(s.phase) === "bad";
    if (this.on && this.last) {
      for (const [name, bad] of Object.entries(now)) {
        const was = this.last[name];
        const s = services[name];
        if (bad && !was) this.tell(`${name} is failing — ${project}`, phaseText(s, 0));
        if (!bad && was && kind(s.phase) === "ok") this.tell(`${name} is back — ${project}`, phaseText(s, 0));
        if (!bad && was && kind(s.phase) !== "ok") now[name] = true; // back only once ready
      }
    }
    this.last = now;
  }

  tell(title, body) {
    new Notification(title, { body, tag: title });
  }
}

/** The spec's error (FILE:LINE:COL and the source line, as the run printed it), or nothing. */
export function specError(section, text) {
  section.hidden = !text;
  const pre = section.querySelector("pre");
  if (pre.textContent !== (text || "")) pre.textContent = text || "";
}
