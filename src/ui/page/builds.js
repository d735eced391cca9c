// Each service's build history, newest first: what triggered it, a bar per stage, and how it ended.

const SHOWN = 5;

function resultText(b) {
  switch (b.result) {
    case "served": return `serves ${b.image.replace(/^sha256:/, "").slice(0, 12)}`;
    case "unchanged": return "image unchanged, container kept";
    case "failed": return `failed: ${b.error}`;
    default: return "running…";
  }
}

function trigger(b) {
  const paths = (b.paths || []).map((p) => p.split("/").slice(-2).join("/"));
  return paths.length ? `${b.cause}: ${paths.join(", ")}` : b.cause;
}

/** A failed build's output, fetched from the tool when first opened (snapshots carry only its length). */
function output(service, b) {
  const details = document.createElement("details");
  details.className = "output";
  const summary = document.createElement("summary");
  summary.textContent = `output (last ${b.output_lines} lines)`;
  const pre = document.createElement("pre");
  details.append(summary, pre);
  details.addEventListener("toggle", async () => {
    if (!details.open || pre.dataset.loaded) return;
    pre.dataset.loaded = "1";
    try {
      const r = await fetch(`/api/builds/${encodeURIComponent(service)}/${b.id}/output`);
      const body = await r.json();
      pre.textContent = r.ok ? body.lines.join("\n") : body.error;
    } catch (e) {
      pre.textContent = `the output could not be read: ${e.message}`;
      delete pre.dataset.loaded;
    }
  });
  return details;
}

/** One build: its trigger, a bar per stage as wide as its share of the total, its result and a failed one's
 * output. */
function item(service, b) {
  const li = document.createElement("li");
  li.className = `build ${b.result}`;
  const head = document.createElement("p");
  head.textContent = `${trigger(b)} — ${resultText(b)}`;
  const bars = document.createElement("div");
  bars.className = "stages";
  const total = b.stages.reduce((sum, [, ms]) => sum + ms, 0) || 1;
  for (const [name, ms] of b.stages) {
    const bar = document.createElement("span");
    bar.className = `stage ${name}`;
    bar.dataset.stage = name;
    bar.style.flexGrow = String(Math.max(ms / total, 0.02));
    bar.textContent = `${name} ${ms} ms`;
    bar.title = `${name}: ${ms} ms`;
    bars.append(bar);
  }
  li.append(head, bars);
  if (b.output_lines) li.append(output(service, b));
  return li;
}

/** Draws the history of every service that has one; a list is redrawn only when its builds changed. */
export function renderBuilds(container, services) {
  for (const [name, s] of Object.entries(services)) {
    const history = (s.history || []).slice(-SHOWN).reverse();
    if (!history.length) continue;
    let list = container.querySelector(`ol[data-service="${CSS.escape(name)}"]`);
    if (!list) {
      const h = document.createElement("h3");
      h.textContent = name;
      list = document.createElement("ol");
      list.dataset.service = name;
      container.append(h, list);
    }
    const key = JSON.stringify(history.map((b) => [b.id, b.cause, b.stages, b.result, b.paths, b.output_lines]));
    if (list.dataset.key === key) continue;
    list.dataset.key = key;
    list.replaceChildren(...history.map((b) => item(name, b)));
  }
}
