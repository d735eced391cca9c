// The dashboard: one live stream of the run (its state and its output) drawn into the table and the log pane.

import { render } from "./state.js";
import { LogPane } from "./logs.js";
import { renderBuilds } from "./builds.js";
import { startCharts } from "./charts.js";
import { startKubo } from "./kubo.js";
import { startDoctor } from "./doctor.js";

const $ = (id) => document.getElementById(id);
const token = document.querySelector('meta[name="pinshare-token"]').content;

async function steer(op, service) {
  const result = $("steer-result");
  result.textContent = `${op} ${service}…`;
  try {
    const r = await fetch("/api/steer", {
      method: "POST",
      headers: { "content-type": "application/json", "x-pinshare-token": token },
      body: JSON.stringify({ op, service }),
    });
    const reply = await r.json();
    result.textContent = reply.ok ? reply.message : `${op} ${service}: ${reply.error}`;
  } catch (e) {
    result.textContent = `${op} ${service}: ${e.message}`;
  }
}

const logs = new LogPane($("log"), {
  service: $("log-service"),
  filter: $("log-filter"),
  follow: $("log-follow"),
  count: $("log-count"),
});
$("log-controls").addEventListener("submit", (e) => e.preventDefault());

let last = null;
const tbody = $("services").tBodies[0];
const draw = () => last && render(tbody, last.snap, last.at, steer);

const stream = new EventSource("/events");
stream.addEventListener("open", () => { $("connection").textContent = "live"; });
stream.addEventListener("error", () => {
  $("connection").textContent = "disconnected: is `pinshare-dev up` still running?";
  document.title = `✖ disconnected — ${document.title.replace(/^.*— /, "")}`;
});
stream.addEventListener("snapshot", (e) => {
  last = { snap: JSON.parse(e.data), at: performance.now() };
  draw();
  renderBuilds($("builds"), last.snap.run.services);
});
stream.addEventListener("logs", (e) => logs.add(JSON.parse(e.data)));
stream.addEventListener("gap", (e) => logs.gap(JSON.parse(e.data).missed));
// Elapsed times move on between snapshots.
setInterval(draw, 1000);
// The panels beside the stream: polled from the tool.
startCharts($("usage").tBodies[0]);
startKubo($("kubo"));
startDoctor($("doctor"), $("doctor-summary"), $("doctor-again"));
