// The services table and the tab's title, from the run's snapshots.

const OK = new Set(["ready"]);
const BAD = new Set(["failed", "crash_loop", "restarting"]);

/** What a service's phase says, its elapsed time counted on from when the snapshot came. */
export function phaseText(s, sinceSnapshotMs) {
  const secs = (ms) => Math.floor((ms + sinceSnapshotMs) / 1000);
  const left = (ms) => Math.max(0, Math.ceil((ms - sinceSnapshotMs) / 1000));
  switch (s.phase) {
    case "waiting": return s.deps && s.deps.length ? `waiting for ${s.deps.join(", ")}` : "waiting";
    case "building": return `building ${secs(s.elapsed_ms)} s`;
    case "starting": return `starting ${secs(s.elapsed_ms)} s`;
    case "ready": return `ready ${secs(s.elapsed_ms)} s`;
    case "swapping": return `swapping ${secs(s.elapsed_ms)} s`;
    case "restarting": return `restarting in ${left(s.in_ms)} s`;
    case "crash_loop": return `crash-loop, next try in ${left(s.in_ms)} s`;
    case "failed": return `failed: ${s.reason}`;
    case "stopped": return s.by_user ? "stopped" : "stopped by the run";
    default: return s.phase || "unknown";
  }
}

/** "ok", "bad", "busy", or "" (stopped), for a phase's colour and the tab's icon. */
export function kind(phase) {
  if (OK.has(phase)) return "ok";
  if (BAD.has(phase)) return "bad";
  return phase === "stopped" ? "" : "busy";
}

/** The tab's title: what is broken first, else how many are ready. */
export function title(run) {
  const names = Object.keys(run.services);
  const broken = names.filter((n) => BAD.has(run.services[n].phase));
  const ready = names.filter((n) => OK.has(run.services[n].phase));
  if (broken.length) return `✖ ${broken.join(", ")} ${broken.length > 1 ? "are" : "is"} failing — ${run.project}`;
  if (ready.length === names.length) return `✔ ${ready.length} ready — ${run.project}`;
  return `… ${ready.length}/${names.length} ready — ${run.project}`;
}

function cell(row, cls) {
  const td = row.insertCell();
  if (cls) td.className = cls;
  return td;
}

function portLinks(td, ports) {
  for (const p of ports || []) {
    const a = document.createElement("a");
    a.href = `http://127.0.0.1:${p}/`;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = p;
    td.append(a, " ");
  }
}

function buttons(td, name, steer) {
  for (const op of ["restart", "stop", "start", "trigger"]) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = op;
    b.dataset.op = op;
    b.dataset.service = name;
    b.addEventListener("click", () => steer(op, name));
    td.append(b);
  }
}

/** Draws the table from `snap` ({run, ports}); `steer` is null when the run takes no steering. */
export function render(tbody, snap, receivedAt, steer) {
  const now = performance.now() - receivedAt;
  for (const [name, s] of Object.entries(snap.run.services)) {
    let row = tbody.querySelector(`tr[data-service="${CSS.escape(name)}"]`);
    if (!row) {
      row = tbody.insertRow();
      row.dataset.service = name;
      cell(row, "name").textContent = name;
      cell(row, "phase");
      cell(row, "build");
      cell(row, "restarts");
      portLinks(cell(row, "ports"), snap.ports[name]);
      const st = cell(row, "steer");
      if (steer) buttons(st, name, steer); else st.hidden = true;
    }
    const phase = row.cells[1];
    phase.textContent = phaseText(s, now);
    phase.className = `phase ${kind(s.phase)}`;
    phase.dataset.phase = s.phase || "";
    row.cells[2].textContent = s.build ? s.build.replace(/^sha256:/, "").slice(0, 12) : "—";
    row.cells[3].textContent = s.restarts ?? 0;
  }
  document.title = title(snap.run);
}
