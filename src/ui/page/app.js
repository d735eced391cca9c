// The dashboard: one live stream of the run (its state and its output) drawn into the table and the log pane.

import { render } from "./state.js";
import { LogPane } from "./logs.js";
import { renderBuilds } from "./builds.js";
import { favicon, Notifier, overall, specError } from "./glance.js";
import { bindKeys } from "./keys.js";
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
  show: $("log-show"),
  follow: $("log-follow"),
  count: $("log-count"),
  problem: $("log-problem"),
  status: $("log-status"),
});
$("log-controls").addEventListener("submit", (e) => e.preventDefault());
$("log-first-error").addEventListener("click", () => logs.firstError());
const notifier = new Notifier($("notify"));

const help = $("help");
$("help-open").addEventListener("click", () => help.showModal());
$("help-close").addEventListener("click", () => help.close());
bindKeys(help, {
  filter: () => {
    // Focused, its text selected: what is typed replaces it.
    $("log-filter").focus();
    $("log-filter").select();
  },
  follow: () => logs.setFollow(!$("log-follow").checked),
  error: () => logs.firstError(),
  pick: (n) => {
    const names = last ? Object.keys(last.snap.run.services) : [];
    if (n === 0) logs.pick("");
    else if (names[n - 1]) logs.pick(names[n - 1]);
  },
});

let last = null;
const tbody = $("services").tBodies[0];
const draw = () => last && render(tbody, last.snap, last.at, steer);

const stream = new EventSource("/events");
stream.addEventListener("open", () => { $("connection").textContent = "live"; });
stream.addEventListener("error", () => {
  $("connection").textContent = "disconnected: is `pinshare-dev up` still running?";
  favicon("off");
  document.title = `✖ disconnected — ${document.title.replace(/^.*— /, "")}`;
});
stream.addEventListener("snapshot", (e) => {
  last = { snap: JSON.parse(e.data), at: performance.now() };
  draw();
  const { run } = last.snap;
  renderBuilds($("builds"), run.services);
  for (const name of Object.keys(run.services)) logs.addService(name);
  favicon(overall(run.services));
  notifier.update(run.project, run.services);
  specError($("spec-error"), run.spec_error);
});
stream.addEventListener("logs", (e) => logs.add(JSON.parse(e.data)));
stream.addEventListener("gap", (e) => logs.gap(JSON.parse(e.data).missed));
// Elapsed times move on between snapshots.
setInterval(draw, 1000);
// The panels beside the stream: polled from the tool.
startCharts($("usage").tBodies[0]);
startKubo($("kubo"));
startDoctor($("doctor"), $("doctor-summary"), $("doctor-again"));
