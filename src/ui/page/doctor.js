// `doctor`'s findings (GET /api/doctor): every check's outcome and, where something is wrong, what fixes it,
// as `pinshare-dev doctor` prints them; checked when the page opens and when asked again.

function item(f) {
  const li = document.createElement("li");
  li.className = `finding ${f.status.toLowerCase()}`;
  li.dataset.check = f.check;
  li.dataset.status = f.status;
  const mark = document.createElement("span");
  mark.className = "mark";
  mark.textContent = f.status;
  const check = document.createElement("span");
  check.className = "check";
  check.textContent = f.check;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = f.text;
  li.append(mark, " ", check, " ", text);
  if (f.fix.length) {
    const ul = document.createElement("ul");
    for (const x of f.fix) {
      const fix = document.createElement("li");
      fix.className = "fix";
      fix.textContent = `fix: ${x}`;
      ul.append(fix);
    }
    li.append(ul);
  }
  return li;
}

/** Fills `list` and `summary` with the findings; `again` asks for them anew. */
export function startDoctor(list, summary, again) {
  async function check() {
    again.disabled = true;
    summary.textContent = "checking…";
    try {
      const r = await fetch("/api/doctor");
      const body = await r.json();
      if (!r.ok) throw new Error(body.error);
      // Problems first, as they matter most.
      const rank = { FAIL: 0, warn: 1, skip: 2, ok: 3 };
      const findings = [...body.findings].sort((a, b) => rank[a.status] - rank[b.status]);
      list.replaceChildren(...findings.map(item));
      summary.textContent = body.summary;
    } catch (e) {
      summary.textContent = `doctor: ${e.message}`;
    } finally {
      again.disabled = false;
    }
  }
  again.addEventListener("click", check);
  check();
}
