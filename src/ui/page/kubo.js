// The kubo panel: what the tool reads from kubo's RPC API (GET /api/kubo; the page never calls kubo, whose
// API is admin-level): peer id, connected peers, repo size, the CORS origins configured, links to the gateway.

import { bytes } from "./charts.js";

const EVERY_MS = 5000;

function row(dl, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.dataset.field = term;
  if (value instanceof Node) dd.append(value); else dd.textContent = value;
  dl.append(dt, dd);
}

function list(items, empty) {
  if (!items || !items.length) return empty;
  const ul = document.createElement("ul");
  for (const i of items) {
    const li = document.createElement("li");
    li.textContent = i;
    ul.append(li);
  }
  return ul;
}

function links(urls) {
  if (!urls.length) return "not published (no host port for the gateway in the spec)";
  const span = document.createElement("span");
  for (const u of urls) {
    const a = document.createElement("a");
    a.href = u;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = u;
    span.append(a, " ");
  }
  return span;
}

/** One kubo service as a description list. */
function card(k) {
  const article = document.createElement("article");
  article.className = "kubo";
  article.dataset.service = k.service;
  const h = document.createElement("h3");
  h.textContent = k.agent ? `${k.service} (${k.agent.replace(/\/$/, "")})` : k.service;
  const dl = document.createElement("dl");
  const unknown = "—";
  row(dl, "peer id", k.peer_id ?? unknown);
  row(dl, "connected peers", k.peers ?? unknown);
  const max = k.storage_max == null ? "" : ` of ${bytes(k.storage_max)} (Datastore.StorageMax)`;
  row(dl, "repo size", k.repo_size == null ? unknown : `${bytes(k.repo_size)}${max}`);
  row(dl, "CORS origins", k.origins == null ? unknown
    : list(k.origins, "none configured: only kubo's own API port on localhost"));
  row(dl, "CORS methods", k.methods == null ? unknown : list(k.methods, "kubo's default (GET, POST, PUT)"));
  row(dl, "gateway", links(k.gateways));
  article.append(h, dl);
  for (const e of k.errors) {
    const p = document.createElement("p");
    p.className = "panel-error";
    p.textContent = e;
    article.append(p);
  }
  return article;
}

/** Polls kubo's figures into `container` while the tab is visible. */
export function startKubo(container) {
  let key = "";
  async function poll() {
    if (document.hidden) return;
    let cards;
    try {
      const r = await fetch("/api/kubo");
      const body = await r.json();
      if (!r.ok) throw new Error(body.error);
      const next = JSON.stringify(body.kubo);
      if (next === key) return;
      key = next;
      cards = body.kubo.length ? body.kubo.map(card) : [document.createTextNode("no kubo service in the spec")];
    } catch (e) {
      const p = document.createElement("p");
      p.className = "panel-error";
      p.textContent = `kubo: ${e.message}`;
      cards = [p];
      key = "";
    }
    container.replaceChildren(...cards);
  }
  poll();
  setInterval(poll, EVERY_MS);
}
