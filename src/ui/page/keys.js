// Keyboard shortcuts, and the `?` overlay that lists them.

/** [key, what it does] as the help overlay shows them. */
export const KEYS = [
  ["/", "focus the log filter"],
  ["f", "follow or pause the logs"],
  ["e", "jump to the first error"],
  ["1…9", "the logs of the nth service"],
  ["0", "the logs of all services"],
  ["?", "this help"],
  ["Esc", "close this help, leave the filter"],
];

/** Fills `dialog`'s list and binds the keys to `actions` ({filter, follow, error, pick(n)}). */
export function bindKeys(dialog, actions) {
  const list = dialog.querySelector("dl");
  for (const [key, what] of KEYS) {
    const dt = document.createElement("dt");
    const kbd = document.createElement("kbd");
    kbd.textContent = key;
    dt.append(kbd);
    const dd = document.createElement("dd");
    dd.textContent = what;
    list.append(dt, dd);
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target.closest("input, select, textarea");
    if (e.key === "Escape") {
      // Leaves the field as it is (a search field would clear itself); an open <dialog> closes itself.
      if (typing) {
        e.preventDefault();
        e.target.blur();
      }
      return;
    }
    if (typing || dialog.open) return;
    const act = {
      "/": actions.filter,
      f: actions.follow,
      e: actions.error,
      "?": () => dialog.showModal(),
    }[e.key];
    if (act) {
      e.preventDefault();
      act();
    } else if (/^[0-9]$/.test(e.key)) {
      e.preventDefault();
      actions.pick(Number(e.key));
    }
  });
}
