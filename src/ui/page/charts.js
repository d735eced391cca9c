// Each service's CPU and memory as two small charts (inline SVG sparklines) against the spec's request and
// limit, from the samples the tool takes as `stats` does (GET /api/usage, polled while the tab is visible).

const SVG = "http://www.w3.org/2000/svg";
const W = 160;
const H = 36;
const EVERY_MS = 2000;

const MI = 1024 * 1024;
export function bytes(n) {
  if (n >= 1024 * MI) return `${(n / (1024 * MI)).toFixed(2)} GiB`;
  if (n >= MI) return `${(n / MI).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
const cores = (millis) => `${millis / 1000} core${millis === 1000 ? "" : "s"}`;

function el(name, attrs) {
  const n = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

/**
 * A sparkline of `values` (oldest first; null: no figure) with a line at `request` and `limit` where they
 * fit: the scale is the highest of the values and the request, plus a quarter, so the trend stays readable
 * when the limit is far above (the text says how far).
 */
export function sparkline(values, request, limit, label) {
  const nums = values.filter((v) => v != null);
  const top = Math.max(...nums, request || 0, 1e-9) * 1.25;
  const y = (v) => (H - 1 - (v / top) * (H - 2)).toFixed(1);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "spark" });
  svg.setAttribute("aria-label", label);
  svg.dataset.points = String(nums.length);
  for (const [cls, v] of [["request", request], ["limit", limit]]) {
    if (v == null || v > top) continue;
    const line = el("line", { x1: 0, x2: W, y1: y(v), y2: y(v), class: cls });
    line.dataset.value = String(v);
    svg.append(line);
  }
  const step = values.length > 1 ? W / (values.length - 1) : W;
  const pts = values.map((v, i) => (v == null ? null : `${(i * step).toFixed(1)},${y(v)}`)).filter(Boolean);
  if (pts.length) svg.append(el("polyline", { points: pts.join(" "), class: "value" }));
  return svg;
}

/** A share in percent: one decimal below 10 (an idle service is a fraction of its request). */
function share(part, whole) {
  const p = (part / whole) * 100;
  return p < 10 ? p.toFixed(1) : String(Math.round(p));
}

function against(now, request, limit, fmt) {
  const parts = [];
  if (request != null) parts.push(`${share(now, request)}% of ${fmt(request)} request`);
  if (limit != null) parts.push(`${share(now, limit)}% of ${fmt(limit)} limit`);
  return parts.length ? ` — ${parts.join(", ")}` : "";
}

function cell(row, cls) {
  const td = row.insertCell();
  td.className = cls;
  return td;
}

/** One service's row: its CPU chart and text, its memory chart and text, and `stats`' marks. */
function draw(row, s) {
  const r = s.resources || {};
  const cpu = s.points.map((p) => p.cpu);
  const mem = s.points.map((p) => p.memory);
  const last = s.points[s.points.length - 1];
  // CPU in percent of one core; the spec's millicores are tenths of a percent.
  const pct = (m) => (m == null ? null : m / 10);
  const [cpuCell, memCell, markCell] = [row.cells[1], row.cells[2], row.cells[3]];
  if (!last) {
    const why = s.state === "running" ? "sampling…" : `not running (${s.state})`;
    for (const c of [cpuCell, memCell]) c.textContent = why;
  } else {
    const cpuNow = last.cpu == null ? "—" : `${last.cpu.toFixed(2)}%`;
    const cpuText = last.cpu == null ? "" : against(last.cpu, pct(r.cpu_millis), pct(r.cpu_limit_millis),
      (v) => cores(v * 10));
    cpuCell.replaceChildren(sparkline(cpu, pct(r.cpu_millis), pct(r.cpu_limit_millis), "CPU"),
      text(`${cpuNow}${cpuText}`));
    memCell.replaceChildren(sparkline(mem, r.memory_bytes, r.memory_limit_bytes, "memory"),
      text(`${bytes(last.memory)}${against(last.memory, r.memory_bytes, r.memory_limit_bytes, bytes)}`));
  }
  markCell.textContent = (s.marks || []).map((m) => m.replace(/-/g, " ")).join(", ");
}

function text(t) {
  const span = document.createElement("span");
  span.className = "figure";
  span.textContent = t;
  return span;
}

/** Polls the samples and draws a row per service into `tbody` while the tab is visible. */
export function startCharts(tbody) {
  async function poll() {
    if (document.hidden) return;
    try {
      const r = await fetch("/api/usage");
      const body = await r.json();
      if (!r.ok) throw new Error(body.error);
      for (const [name, s] of Object.entries(body.services)) {
        let row = tbody.querySelector(`tr[data-service="${CSS.escape(name)}"]`);
        if (!row) {
          row = tbody.insertRow();
          row.dataset.service = name;
          cell(row, "name").textContent = name;
          cell(row, "cpu");
          cell(row, "memory");
          cell(row, "marks");
        }
        draw(row, s);
      }
    } catch (e) {
      tbody.closest("section").querySelector(".panel-error").textContent = `usage: ${e.message}`;
    }
  }
  poll();
  setInterval(poll, EVERY_MS);
}
