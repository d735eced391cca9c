// The log pane: the lines of the stream in a bounded buffer, all services or one, narrowed by a text filter.

/** Lines kept in the page; older ones are dropped (everything is still in `pinshare-dev logs`). */
export const KEEP = 5000;

export class LogPane {
  constructor(pane, { service, filter, follow, count }) {
    this.pane = pane;
    this.controls = { service, filter, follow, count };
    this.lines = []; // {name, node}
    this.pending = [];
    this.scheduled = false;
    this.known = new Set();
    service.addEventListener("change", () => this.redraw());
    filter.addEventListener("input", () => this.redraw());
  }

  /** A `logs` event's pieces: [{name, event, lines, at}]. */
  add(pieces) {
    for (const p of pieces) {
      this.addService(p.name);
      const time = new Date(p.at).toLocaleTimeString();
      for (const text of p.lines) this.pending.push(this.node(p.name, p.event, time, text));
    }
    this.schedule();
  }

  /** A note that the page fell behind and missed lines. */
  gap(missed) {
    const n = document.createElement("div");
    n.className = "gap";
    n.textContent = `… ${missed} pieces of output missed (see pinshare-dev logs)`;
    this.pending.push({ name: "", text: n.textContent.toLowerCase(), node: n });
    this.schedule();
  }

  addService(name) {
    if (this.known.has(name)) return;
    this.known.add(name);
    const o = document.createElement("option");
    o.value = name;
    o.textContent = name;
    this.controls.service.append(o);
  }

  node(name, event, time, text) {
    const n = document.createElement("div");
    n.className = event ? "line event" : "line";
    n.dataset.service = name;
    const t = document.createElement("time");
    t.textContent = time;
    const s = document.createElement("span");
    s.className = "name";
    s.textContent = name;
    const x = document.createElement("span");
    x.className = "text";
    x.textContent = text;
    n.append(t, s, x);
    return { name, text: text.toLowerCase(), node: n };
  }

  matches(l) {
    const service = this.controls.service.value;
    const filter = this.controls.filter.value.toLowerCase();
    return (!service || l.name === service || l.name === "") && (!filter || l.text.includes(filter));
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

  flush() {
    const fresh = this.pending.splice(0).slice(-KEEP);
    const frag = document.createDocumentFragment();
    for (const l of fresh) if (this.matches(l)) frag.append(l.node);
    this.lines.push(...fresh);
    const over = this.lines.length - KEEP;
    if (over > 0) for (const l of this.lines.splice(0, over)) l.node.remove();
    this.pane.append(frag);
    this.after();
  }

  redraw() {
    const frag = document.createDocumentFragment();
    for (const l of this.lines) if (this.matches(l)) frag.append(l.node);
    this.pane.replaceChildren(frag);
    this.after();
  }

  after() {
    this.controls.count.value = `${this.pane.childElementCount} of ${this.lines.length} lines`;
    if (this.controls.follow.checked) this.pane.scrollTop = this.pane.scrollHeight;
  }
}
