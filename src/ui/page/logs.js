// The log pane: the lines of the stream in a bounded buffer, all services or one, containers' output and the
// tool's events together or apart, narrowed by a text or /regex/ filter kept per service in the URL's hash.
// A line is a plain record until it is shown: its DOM row is built only when a frame puts it in the pane, so a
// flood costs a record per line and at most [`CHUNK`] rows per frame, never rows for lines trimmed before showing.

/** Lines kept in the page; older ones are dropped (everything is still in `pinshare-dev logs`). */
export const KEEP = 5000;

/** Rows built in one frame at most: a flood fills the pane over several frames and the page answers between
 * them (5,000 rows in one frame held the page for 0.6 s at a time on a 2-core machine, and for seconds in a row). */
const CHUNK = 500;

/** What makes a line an error for "first error". */
const ERROR = /\b(error|fatal|panic|fail(ed|ure)?)\b/i;

/** `12:04:05.123`, the line's arrival time. */
function clock(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** A filter's test: `/re/` is a case-insensitive regular expression, anything else plain text. */
export function compile(filter) {
  const re = /^\/(.+)\/$/.exec(filter);
  if (re) {
    const r = new RegExp(re[1], "i"); // throws when invalid: the caller says so
    return (text) => r.test(text);
  }
  const lower = filter.toLowerCase();
  return (text) => text.toLowerCase().includes(lower);
}

export class LogPane {
  constructor(pane, controls) {
    this.pane = pane;
    this.controls = controls; // {service, filter, show, follow, count, problem, status}
    this.lines = []; // {name, source, time, text, error, node}: node is built when the line is first shown
    this.pending = [];
    this.missed = 0;
    this.scheduled = false;
    this.known = new Set();
    this.test = null;
    this.filters = {}; // per service ("" = all): its filter text
    this.fromHash();
    controls.service.addEventListener("change", () => this.pick(controls.service.value));
    controls.filter.addEventListener("input", () => {
      this.filters[controls.service.value] = controls.filter.value;
      this.changed();
    });
    controls.show.addEventListener("change", () => this.changed());
    controls.follow.addEventListener("change", () => this.flush());
    window.addEventListener("hashchange", () => this.fromHash());
  }

  /** The view asked for by the hash: `#service=app&show=output&filter.app=/err/&filter.=text`. */
  fromHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    this.filters = {};
    for (const [k, v] of h) if (k.startsWith("filter.")) this.filters[k.slice(7)] = v;
    const service = h.get("service") || "";
    if (service) this.addService(service);
    this.controls.service.value = service;
    this.controls.show.value = h.get("show") || "all";
    this.controls.filter.value = this.filters[service] || "";
    this.compileFilter();
    this.redraw();
  }

  toHash() {
    const h = new URLSearchParams();
    if (this.controls.service.value) h.set("service", this.controls.service.value);
    if (this.controls.show.value !== "all") h.set("show", this.controls.show.value);
    for (const [k, v] of Object.entries(this.filters)) if (v) h.set(`filter.${k}`, v);
    const hash = h.toString();
    // replaceState: no history entry per keystroke, and no hashchange back to us.
    history.replaceState(null, "", hash ? `#${hash}` : location.pathname + location.search);
  }

  changed() {
    this.compileFilter();
    this.toHash();
    this.redraw();
  }

  compileFilter() {
    const { filter, problem } = this.controls;
    try {
      this.test = filter.value ? compile(filter.value) : null;
      problem.textContent = "";
      filter.removeAttribute("aria-invalid");
    } catch (e) {
      this.test = null;
      problem.textContent = `not a regular expression: ${e.message}`;
      filter.setAttribute("aria-invalid", "true");
    }
  }

  /** A `logs` event's pieces: [{name, source: "stdout"|"stderr"|"event", lines, at}]. */
  add(pieces) {
    for (const p of pieces) {
      this.addService(p.name);
      const time = clock(p.at);
      for (const text of p.lines) this.pending.push({ name: p.name, source: p.source, time, text, node: null });
    }
    this.bound();
    this.schedule();
  }

  /** A note that the page fell behind and missed lines. */
  gap(missed) {
    const text = `… ${missed} pieces of output missed (see pinshare-dev logs)`;
    this.pending.push({ name: "", source: "gap", time: "", text, node: null });
    this.bound();
    this.schedule();
  }

  /** While paused, lines wait here: the oldest go past [`KEEP`], as they would from the pane. */
  bound() {
    // Trimmed in chunks, one splice per KEEP lines rather than one per event; [`count`] says what is over.
    const over = this.pending.length - KEEP;
    if (over >= KEEP) {
      this.pending.splice(0, over);
      this.missed += over;
    }
  }

  addService(name) {
    if (!name || this.known.has(name)) return;
    this.known.add(name);
    const o = document.createElement("option");
    o.value = name;
    o.textContent = name;
    this.controls.service.append(o);
  }

  /** `l`'s row in the pane, built the first time it is shown. */
  node(l) {
    if (l.node) return l.node;
    const n = document.createElement("div");
    if (l.source === "gap") {
      n.className = "gap";
      n.textContent = l.text;
    } else {
      n.className = `line ${l.source}${this.isError(l) ? " error" : ""}`;
      n.dataset.service = l.name;
      n.dataset.source = l.source;
      const parts = [["time", l.time], ["span", l.name, "name"], ["span", l.source, "source"], ["span", l.text, "text"]];
      for (const [tag, content, cls] of parts) {
        const e = document.createElement(tag);
        if (cls) e.className = cls;
        e.textContent = content;
        n.append(e);
      }
    }
    l.node = n;
    return n;
  }

  /** Whether `l` counts for "first error", tested once and only for lines that get that far. */
  isError(l) {
    if (l.error === undefined) l.error = l.source !== "gap" && ERROR.test(l.text);
    return l.error;
  }

  matches(l) {
    const service = this.controls.service.value;
    const show = this.controls.show.value;
    if (service && l.name !== service && l.name !== "") return false;
    if (show === "output" && l.source === "event") return false;
    if (show === "events" && (l.source === "stdout" || l.source === "stderr")) return false;
    return !this.test || this.test(l.text);
  }

  // Work is done once per frame, however many events came: a flood costs one DOM update per frame.
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Paused, the pane stays as it is and says how many lines wait; following, they go in. */
  flush() {
    if (!this.controls.follow.checked) {
      this.count();
      return;
    }
    // Only the newest KEEP of what waits can stay: the rest is counted, never built. The oldest CHUNK of them
    // go in now, the rest at the next frames.
    const skip = Math.max(0, this.pending.length - KEEP);
    this.missed += skip;
    const fresh = this.pending.slice(skip, skip + CHUNK);
    this.pending = this.pending.slice(skip + CHUNK);
    if (this.pending.length) this.schedule();
    const over = this.lines.length + fresh.length - KEEP;
    if (over > 0) for (const l of this.lines.splice(0, over)) l.node?.remove();
    const frag = document.createDocumentFragment();
    for (const l of fresh) if (this.matches(l)) frag.append(this.node(l));
    for (const l of fresh) this.lines.push(l);
    this.pane.append(frag);
    this.after();
  }

  redraw() {
    const frag = document.createDocumentFragment();
    for (const l of this.lines) if (this.matches(l)) frag.append(this.node(l));
    this.pane.replaceChildren(frag);
    this.after();
  }

  after() {
    this.count();
    if (this.controls.follow.checked) this.pane.scrollTop = this.pane.scrollHeight;
  }

  count() {
    const over = Math.max(0, this.pending.length - KEEP);
    const paused = !this.controls.follow.checked && this.pending.length;
    const waiting = paused ? `, paused with ${this.pending.length - over} new` : "";
    const missed = this.missed + over ? `, ${this.missed + over} older dropped` : "";
    this.controls.count.value = `${this.pane.childElementCount} of ${this.lines.length} lines${waiting}${missed}`;
  }

  /** Shows `service`'s lines ("" for all), with the filter kept for it. */
  pick(service) {
    this.addService(service);
    this.controls.service.value = service;
    this.controls.filter.value = this.filters[service] || "";
    this.changed();
  }

  setFollow(on) {
    this.controls.follow.checked = on;
    this.flush();
  }

  /** Pauses on the first error among the lines shown, scrolled to and marked; says so when there is none. */
  firstError() {
    this.setFollow(false);
    for (const old of this.pane.querySelectorAll(".line.current")) old.classList.remove("current");
    const first = this.lines.find((l) => this.isError(l) && this.matches(l));
    if (!first) {
      this.controls.status.textContent = "no error in the lines shown";
      return;
    }
    const row = this.node(first);
    row.classList.add("current");
    row.scrollIntoView({ block: "center" });
    this.controls.status.textContent = `first error: ${first.name} at ${first.time}`;
  }
}
