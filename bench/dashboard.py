#!/usr/bin/env python3
"""Dashboard benchmark: the page of a foreground `pinshare-dev up` in headless Chromium, driven over WebDriver.

On a private copy of the offline demo (examples/offline: kubo double + PinShare double; own project name
`bench-ui`, free host ports, the release binary), per round:

  ui run     `pinshare-dev up --ui-port <free>` in the foreground (output to a file), a Chromium page on its URL:
             first render  navigation → the services table shows both services ready (measured in the page:
                           performance.now() of the DOM change, 0 = navigation start), --navigations times
             idle RSS      `up`'s VmRSS over --idle-seconds with the page open
             flood         `busybox seq 1 N` written to kubo's container stdout (docker exec … > /proc/1/fd/1),
                           then a marker line: until the page shows the marker; the page's longest main-thread
                           task (PerformanceObserver 'longtask', observing from the document's start) and long
                           animation frame during it, its JS heap (CDP Performance.getMetrics, every 100 ms, and
                           after a forced GC), its DOM nodes, the newest 5,000 lines in the pane in order, `up`'s
                           RSS (every 100 ms)
             state change  `docker kill` of the app container → the page shows pinshare no longer ready; the
                           engine's `die` event → the same; `pinshare-dev stop pinshare` → the page shows
                           `stopped`; `pinshare-dev start pinshare` → the page shows `ready`
  no-ui run  `pinshare-dev up --no-ui`, the same idle and flood RSS samples, no browser

The ui and no-ui runs alternate, the order rotating each round. Page times come from the page's own clock
(performance.timeOrigin + now, the same wall clock as the bench's time.time()), taken by a MutationObserver on the
services table and the next animation frame after it (the frame that shows it).

Needs Debian's chromium and chromium-driver (installed here with apt-get when missing, as .ci/run does).
Python 3.11 stdlib only (WebDriver over urllib). Only creates/removes Docker objects named `bench-ui…`.
Usage: cargo build --release && python3 bench/dashboard.py [--rounds 3] [--lines 300000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).parent))
import cold_up  # noqa: E402
import rebuild  # noqa: E402
from cold_up import OFFLINE, REPO, Engine, free_port, log, med  # noqa: E402

PROJECT = "bench-ui"
TIMEOUT = 120.0
KEEP = 5000  # lines the page keeps (src/ui/page/logs.js KEEP)
CHROME = "/usr/bin/chromium"
ALL_READY = re.compile(r"all services ready")
URL = re.compile(r"dashboard: (http://127\.0\.0\.1:\d+/?)")

# Runs in the page before its own scripts: long tasks and long animation frames from the document's start, and
# every change of the services table's phases with its time (DOM change and the next frame).
PROBE = r"""
(() => {
  const b = window.__bench = { longtasks: [], loaf: [], changes: [], readyAt: null, readyFrame: null, gaps: 0 };
  const wall = () => performance.timeOrigin + performance.now();
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) b.longtasks.push([e.startTime, e.duration]); })
      .observe({ type: "longtask", buffered: true });
  } catch (e) { b.noLongtask = String(e); }
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) b.loaf.push([e.startTime, e.duration, e.blockingDuration]);
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch (e) { b.noLoaf = String(e); }
  const ES = window.EventSource;
  window.EventSource = function (...a) {
    const s = new ES(...a);
    s.addEventListener("gap", (e) => { b.gaps += JSON.parse(e.data).missed; });
    return s;
  };
  window.EventSource.prototype = ES.prototype;
  let last = "";
  const check = () => {
    const rows = [...document.querySelectorAll("#services tbody tr")];
    const phases = Object.fromEntries(rows.map((r) => [r.dataset.service, r.cells[1].dataset.phase]));
    const key = JSON.stringify(phases);
    if (key === last) return;
    last = key;
    const c = { at: wall(), phases, frame: null };
    b.changes.push(c);
    requestAnimationFrame(() => { c.frame = wall(); });
    if (b.readyAt === null && rows.length >= 2 && rows.every((r) => r.cells[1].dataset.phase === "ready")) {
      b.readyAt = performance.now();
      requestAnimationFrame(() => { b.readyFrame = performance.now(); });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("services");
    if (!table) return; // about:blank between navigations
    new MutationObserver(check).observe(table,
      { subtree: true, childList: true, attributes: true, attributeFilter: ["data-phase"] });
    check();
  });
})();
"""


# --------------------------------------------------------------------------------------------- WebDriver


class WebDriver:
    """chromedriver on a free port and one headless Chromium session, spoken to over plain HTTP."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                self.call("GET", "/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROME,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                     "--enable-precise-memory-info"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]
        self.cdp("Performance.enable", {})
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def session(self, method: str, path: str, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def goto(self, url: str) -> None:
        self.session("POST", "/url", {"url": url})

    def js(self, script: str, *args):
        return self.session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def cdp(self, cmd: str, params: dict):
        return self.session("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})

    def metrics(self) -> dict[str, float]:
        return {m["name"]: m["value"] for m in self.cdp("Performance.getMetrics", {})["metrics"]}

    def close(self) -> None:
        try:
            self.session("DELETE", "")
        except (OSError, RuntimeError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def ensure_chromium() -> None:
    """Debian's chromium and chromium-driver, as .ci/run installs them."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    log("installing Debian's chromium and chromium-driver")
    install = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, capture_output=True, env=env).returncode:  # no package list yet
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True, env=env)


# --------------------------------------------------------------------------------------------- the run


class Up:
    """A foreground `pinshare-dev up` with its output in a file (nothing in Python on the flood's path)."""

    def __init__(self, binary: Path, spec: Path, out: Path, *args: str):
        self.binary, self.spec, self.out = binary, spec, out
        self.f = open(out, "wb")
        self.p = subprocess.Popen([str(binary), "-f", str(spec), "up", *args], stdout=self.f,
                                  stderr=subprocess.STDOUT, env=dict(os.environ, NO_COLOR="1"), cwd=spec.parent,
                                  start_new_session=True)

    def wait_for(self, rx: re.Pattern, timeout: float = TIMEOUT) -> re.Match:
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.out.read_text(errors="replace"))
            if m:
                return m
            if self.p.poll() is not None:
                raise RuntimeError(f"pinshare-dev up exited {self.p.returncode}:\n{self.tail()}")
            if time.time() > deadline:
                raise TimeoutError(f"no {rx.pattern!r} from up:\n{self.tail()}")
            time.sleep(0.05)

    def tail(self) -> str:
        return "\n".join(self.out.read_text(errors="replace").splitlines()[-30:])

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.p.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def psd(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), "-f", str(self.spec), *args], capture_output=True, text=True,
                              env=dict(os.environ, NO_COLOR="1"), timeout=TIMEOUT)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()
        self.psd("down", "--volumes")


def renderer_rss_kib(root: int) -> int:
    """VmRSS of the Chromium renderer processes under `root` (chromedriver): the page's process."""
    parent, rss = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            if b"--type=renderer" in (d / "cmdline").read_bytes():
                rss[int(d.name)] = next(int(x.split()[1]) for x in (d / "status").read_text().splitlines()
                                        if x.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue

    def under(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parent.get(pid, 1)
        return False

    return sum(v for k, v in rss.items() if under(k))


class Sampler(threading.Thread):
    """`up`'s VmRSS (and, with a page, the page's JS heap and DOM nodes) every 100 ms until stopped."""

    def __init__(self, up: Up, wd: WebDriver | None):
        super().__init__(daemon=True)
        self.up, self.wd = up, wd
        self.rss: list[int] = []
        self.heap: list[float] = []
        self.nodes: list[float] = []
        self.renderer: list[int] = []
        self.done = threading.Event()
        self.cdp = threading.Thread(target=self.run_cdp, daemon=True)

    def run(self) -> None:
        if self.wd:
            self.cdp.start()
        while not self.done.wait(0.1):
            self.rss.append(self.up.rss_kib())
            if self.wd:
                self.renderer.append(renderer_rss_kib(self.wd.proc.pid))

    def run_cdp(self) -> None:
        """The page's own figures: answered by its main thread, so none come while a long task runs."""
        while not self.done.wait(0.1):
            m = self.wd.metrics()
            self.heap.append(m.get("JSHeapUsedSize", 0))
            self.nodes.append(m.get("Nodes", 0))

    def stop(self) -> None:
        self.done.set()
        self.join(30)
        if self.cdp.is_alive():
            self.cdp.join(30)


class Bench:
    def __init__(self, args):
        self.args = args
        self.engine = Engine()
        self.bin = Path(args.bin).resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
        self.ctx = rebuild.copy_example(self.tmp / "offline")
        names = ["5001", "8080", "4001", "9090", "50001"]
        self.ports = {p: free_port() for p in names}
        text = rebuild.spec_copy((OFFLINE / "pinshare.toml").read_text(), PROJECT, self.ports)
        self.spec = self.ctx / "pinshare.toml"
        self.spec.write_text(text)
        self.r: dict[str, list] = {k: [] for k in (
            "first_render", "first_render_frame", "first_render_first_nav", "idle_rss_ui", "idle_rss_noui",
            "flood_rss_ui", "flood_rss_noui", "flood_page_ms", "flood_exec_ms", "longtask_max", "longtask_count",
            "blocking_ms", "loaf_max", "heap_before", "heap_peak", "heap_after_gc", "nodes_peak", "nodes_after_gc", "renderer_before",
            "renderer_peak", "renderer_after", "gaps",
            "tail_in_order", "kill_to_page", "die_to_page", "stop_to_page", "stop_die", "start_to_page",
            "start_event_to_page", "stop_cli_ms", "rss_after_flood_ui", "rss_after_flood_noui", "console_errors")}
        self.notes: list[str] = []

    def container(self, service: str) -> str:
        return f"{PROJECT}-{service}"

    def up(self, *args: str) -> Up:
        u = Up(self.bin, self.spec, self.tmp / f"up-{time.time_ns()}.out", *args)
        u.wait_for(ALL_READY, 300)
        return u

    def idle_rss(self, u: Up) -> int:
        xs = []
        end = time.time() + self.args.idle_seconds
        while time.time() < end:
            xs.append(u.rss_kib())
            time.sleep(0.1)
        return max(xs)

    def flood(self, u: Up, wd: WebDriver | None, tag: str) -> dict:
        """N numbered lines, then a marker, on kubo's container stdout; until the page (or `up`) shows the marker."""
        marker = f"flood-done-{tag}"
        n = self.args.lines
        script = f"busybox seq 1 {n} > /proc/1/fd/1; echo {marker} > /proc/1/fd/1"
        page_t0 = wd.js("return performance.now()") if wd else None
        s = Sampler(u, wd)
        s.start()
        t0 = time.time()
        subprocess.run(["docker", "exec", self.container("ipfs"), "sh", "-c", script], check=True)
        exec_ms = (time.time() - t0) * 1000
        shown = None
        deadline = time.time() + TIMEOUT
        if wd:
            has = ("let l = document.getElementById('log').lastElementChild; "
                   "for (let i = 0; l && i < 50; i++, l = l.previousElementSibling) "
                   "if (l.textContent.includes(arguments[0])) return true; return false")
            while not wd.js(has, marker):
                if time.time() > deadline:
                    raise TimeoutError(f"the page never showed {marker}")
                time.sleep(0.05)
            shown = (time.time() - t0) * 1000
        else:
            u.wait_for(re.compile(re.escape(marker)))
        time.sleep(1.0)  # the last frames, and the samples after the flood
        s.stop()
        out = {"exec_ms": exec_ms, "page_ms": shown, "rss_peak": max(s.rss), "rss_after": s.rss[-1]}
        if wd:
            b = wd.js("return window.__bench")
            tasks = [d for st, d in b["longtasks"] if st >= page_t0]
            loaf = [d for st, d, _ in b["loaf"] if st >= page_t0]
            wd.cdp("HeapProfiler.collectGarbage", {})
            after = wd.metrics()
            tail = wd.js("return [...document.querySelectorAll('#log .line .text')].map(n => n.textContent)")
            nums = [int(t) for t in tail if t.strip().isdigit()]
            out |= {
                "longtask_max": max(tasks, default=0), "longtask_count": len(tasks),
                "blocking_ms": sum(max(0, d - 50) for d in tasks), "loaf_max": max(loaf, default=0),
                "heap_before": s.heap[0] if s.heap else None, "heap_peak": max(s.heap or [0]),
                "heap_after_gc": after["JSHeapUsedSize"], "nodes_peak": max(s.nodes or [0]), "gaps": b["gaps"],
                "nodes_after_gc": after["Nodes"], "renderer_before": s.renderer[0] if s.renderer else None,
                "renderer_peak": max(s.renderer or [0]), "renderer_after": s.renderer[-1] if s.renderer else None,
                "tail_in_order": len(nums) >= KEEP - 100 and nums == list(range(n - len(nums) + 1, n + 1)),
                "pane_numbers": len(nums),
                "no_longtask": b.get("noLongtask"),
            }
        return out

    def first_render(self, wd: WebDriver, url: str) -> None:
        for i in range(self.args.navigations):
            wd.goto("about:blank")
            wd.goto(url)
            deadline = time.time() + 30
            while True:
                b = wd.js("return [window.__bench.readyAt, window.__bench.readyFrame]")
                if b[0] is not None and b[1] is not None:
                    break
                if time.time() > deadline:
                    raise TimeoutError(f"the page never showed both services ready: {wd.js('return document.title')}")
                time.sleep(0.05)
            if i == 0:
                self.r["first_render_first_nav"].append(b[0])
            else:
                self.r["first_render"].append(b[0])
                self.r["first_render_frame"].append(b[1])

    def page_change(self, wd: WebDriver, since_wall_ms: float, pred, what: str) -> tuple[float, float]:
        """(DOM change, the frame after it), wall ms, of the first table change after `since` that `pred` holds."""
        deadline = time.time() + TIMEOUT
        while True:
            for c in wd.js("return window.__bench.changes"):
                if c["at"] >= since_wall_ms and pred(c["phases"]) and c["frame"]:
                    return c["at"], c["frame"]
            if time.time() > deadline:
                raise TimeoutError(f"the page never showed {what}: {wd.js('return window.__bench.changes')[-3:]}")
            time.sleep(0.05)

    def engine_event(self, action: str, since: float) -> float | None:
        """Wall ms of the engine's first `action` event of the app container since `since` (epoch s)."""
        flt = json.dumps({"type": ["container"], "event": [action], "container": [self.container("pinshare")]})
        _, data = self.engine.call("GET", "/events", query={"since": f"{since - 1:.3f}", "until": f"{time.time():.3f}",
                                                            "filters": flt})
        if isinstance(data, bytes):  # more than one event: one JSON object a line
            events = [json.loads(x) for x in data.splitlines() if x.strip()]
        else:
            events = [data] if data else []
        ts = [e["timeNano"] / 1e6 for e in events if e.get("timeNano", 0) / 1e9 >= since]
        return min(ts) if ts else None

    def state_changes(self, u: Up, wd: WebDriver) -> None:
        ready = lambda p: p.get("pinshare") == "ready"  # noqa: E731
        for _ in range(self.args.kills):
            self.page_change(wd, 0, ready, "pinshare ready")
            t0 = time.time()
            subprocess.run(["docker", "kill", self.container("pinshare")], check=True, capture_output=True)
            at, frame = self.page_change(wd, t0 * 1000, lambda p: p.get("pinshare") != "ready", "pinshare not ready")
            self.r["kill_to_page"].append(frame - t0 * 1000)
            die = self.engine_event("die", t0)
            if die:
                self.r["die_to_page"].append(frame - die)
            self.page_change(wd, frame, ready, "pinshare ready again")
        t0 = time.time()
        p = u.psd("stop", "pinshare")
        cli = (time.time() - t0) * 1000
        if p.returncode:
            raise RuntimeError(f"stop pinshare: {p.stderr}")
        _, frame = self.page_change(wd, t0 * 1000, lambda p: p.get("pinshare") == "stopped", "pinshare stopped")
        self.r["stop_to_page"].append(frame - t0 * 1000)
        self.r["stop_cli_ms"].append(cli)
        die = self.engine_event("die", t0)
        if die:  # the page says `stopped` once the run takes the command, before the container is down
            self.r["stop_die"].append(die - t0 * 1000)
        t0 = time.time()
        p = u.psd("start", "pinshare")
        if p.returncode:
            raise RuntimeError(f"start pinshare: {p.stderr}")
        _, frame = self.page_change(wd, t0 * 1000, ready, "pinshare ready after start")
        self.r["start_to_page"].append(frame - t0 * 1000)
        started = self.engine_event("start", t0)
        if started:
            self.r["start_event_to_page"].append(frame - started)

    def ui_run(self, wd: WebDriver, rnd: int) -> None:
        u = self.up("--ui-port", str(free_port()))
        try:
            url = u.wait_for(URL).group(1)
            self.first_render(wd, url)
            self.r["idle_rss_ui"].append(self.idle_rss(u))
            f = self.flood(u, wd, f"ui{rnd}")
            self.r["flood_rss_ui"].append(f["rss_peak"])
            self.r["rss_after_flood_ui"].append(f["rss_after"])
            self.r["flood_page_ms"].append(f["page_ms"])
            self.r["flood_exec_ms"].append(f["exec_ms"])
            for k in ("longtask_max", "longtask_count", "blocking_ms", "loaf_max", "heap_before", "heap_peak",
                      "heap_after_gc", "nodes_peak", "nodes_after_gc", "renderer_before", "renderer_peak",
                      "renderer_after", "gaps", "tail_in_order"):
                self.r[k].append(f[k])
            if f.get("no_longtask"):
                self.notes.append(f"PerformanceObserver longtask: {f['no_longtask']}")
            self.state_changes(u, wd)
            errors = [e for e in wd.session("POST", "/se/log", {"type": "browser"}) if e.get("level") == "SEVERE"]
            self.r["console_errors"].append(len(errors))
            if errors:
                self.notes.append(f"console errors: {[e.get('message') for e in errors][:3]}")
            wd.goto("about:blank")
        finally:
            u.stop()

    def noui_run(self, rnd: int) -> None:
        u = self.up("--no-ui")
        try:
            if URL.search(u.out.read_text(errors="replace")):
                raise RuntimeError("--no-ui printed a dashboard URL")
            self.r["idle_rss_noui"].append(self.idle_rss(u))
            f = self.flood(u, None, f"noui{rnd}")
            self.r["flood_rss_noui"].append(f["rss_peak"])
            self.r["rss_after_flood_noui"].append(f["rss_after"])
        finally:
            u.stop()

    def clean(self) -> None:
        subprocess.run([str(self.bin), "-f", str(self.spec), "down", "--volumes"], capture_output=True,
                       env=dict(os.environ, NO_COLOR="1"), timeout=TIMEOUT)
        self.engine.purge(PROJECT)
        rebuild.PREFIX = PROJECT
        rebuild.remove_lock_files()


# --------------------------------------------------------------------------------------------- report


def row(label: str, xs: list, unit: str = "ms", scale: float = 1.0, digits: int = 0) -> str:
    xs = [x / scale for x in xs if x is not None]
    if not xs:
        return f"| {label} | – | – | – | {unit} |"
    return (f"| {label} | {statistics.median(xs):,.{digits}f} | {min(xs):,.{digits}f} | {max(xs):,.{digits}f} "
            f"| {unit} |")


def report(b: Bench, facts: dict, cmdline: str) -> str:
    r, n = b.r, b.args.lines
    mib = 1024.0
    out = [
        f"## Dashboard, {b.args.rounds} rounds (ui and --no-ui runs alternating), {n:,}-line floods", "",
        "| what | median | min | max | unit |", "|---|---:|---:|---:|---|",
        row("first render: navigation → both services ready in the table (first navigation of each run)",
            r["first_render_first_nav"]),
        row("first render, later navigations (DOM change)", r["first_render"]),
        row("first render, later navigations (the frame that shows it)", r["first_render_frame"]),
        row(f"flood: `docker exec` writing {n:,} lines returned", r["flood_exec_ms"]),
        row("flood: its last line shown in the page (from the exec's start)", r["flood_page_ms"]),
        row("flood: longest main-thread task (PerformanceObserver longtask)", r["longtask_max"]),
        row("flood: long tasks (≥ 50 ms)", r["longtask_count"], "tasks"),
        row("flood: total blocking time (Σ task − 50 ms)", r["blocking_ms"]),
        row("flood: longest animation frame (long-animation-frame)", r["loaf_max"]),
        row("page JS heap before the flood", r["heap_before"], "MiB", 1024 * 1024, 1),
        row("page JS heap, peak during the flood (CDP, every 100 ms)", r["heap_peak"], "MiB", 1024 * 1024, 1),
        row("page JS heap after the flood, after a forced GC", r["heap_after_gc"], "MiB", 1024 * 1024, 1),
        row("page DOM nodes, peak (CDP)", r["nodes_peak"], "nodes"),
        row("page DOM nodes after the flood, after a forced GC", r["nodes_after_gc"], "nodes"),
        row("the page's renderer process RSS before the flood", r["renderer_before"], "MiB", mib, 1),
        row("the page's renderer process RSS, peak during the flood (/proc, every 100 ms)", r["renderer_peak"],
            "MiB", mib, 1),
        row("the page's renderer process RSS 1 s after the flood", r["renderer_after"], "MiB", mib, 1),
        row("output pieces the page missed (gap events)", r["gaps"], "pieces"),
        row("`up` RSS idle, dashboard open (max over the idle window)", r["idle_rss_ui"], "MiB", mib, 1),
        row("`up` RSS idle, `--no-ui`", r["idle_rss_noui"], "MiB", mib, 1),
        row("`up` RSS peak during the flood, dashboard open", r["flood_rss_ui"], "MiB", mib, 1),
        row("`up` RSS peak during the flood, `--no-ui`", r["flood_rss_noui"], "MiB", mib, 1),
        row("`up` RSS 1 s after the flood, dashboard open", r["rss_after_flood_ui"], "MiB", mib, 1),
        row("`up` RSS 1 s after the flood, `--no-ui`", r["rss_after_flood_noui"], "MiB", mib, 1),
        row("`docker kill` of the app → the page shows it not ready", r["kill_to_page"]),
        row("the engine's `die` event → the page shows it", r["die_to_page"]),
        row("`pinshare-dev stop pinshare` → the page shows `stopped`", r["stop_to_page"]),
        row("`pinshare-dev stop pinshare` → the engine's `die` event (the app's stop)", r["stop_die"]),
        row("`pinshare-dev stop pinshare` returned", r["stop_cli_ms"]),
        row("`pinshare-dev start pinshare` → the page shows `ready`", r["start_to_page"]),
        row("`start`'s engine `start` event → the page shows `ready`", r["start_event_to_page"]),
        "",
        f"The pane's newest 5,000 lines were the flood's last numbers, in order: {sum(map(bool, r['tail_in_order']))}"
        f" of {len(r['tail_in_order'])} floods. Console errors (SEVERE): {sum(r['console_errors'])}.",
    ]
    out += [x for note in sorted(set(b.notes)) for x in ("", f"NOTE: {note}")]
    facts["loadavg_end"] = os.getloadavg()
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), "", f"Command: {cmdline}"]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--navigations", type=int, default=4, help="page loads per ui run (the first reported apart)")
    ap.add_argument("--kills", type=int, default=2, help="`docker kill`s of the app per ui run")
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    args = ap.parse_args()
    if not Path(args.bin).is_file():
        ap.error(f"{args.bin} missing: run `cargo build --release` first")
    cmdline = "python3 " + shlex.join(sys.argv)
    ensure_chromium()
    cold_up.ensure_busybox()
    b = Bench(args)
    facts = cold_up.facts(b.engine, b.bin)
    facts.pop("docker_compose", None)
    facts["chromium"] = cold_up.sh([CHROME, "--version"]).splitlines()[-1:]
    wd = None
    try:
        b.clean()
        log("first up (builds the copy's images)")
        b.up("--no-ui").stop()
        wd = WebDriver()
        for rnd in range(args.rounds):
            for kind in (("ui", "noui") if rnd % 2 == 0 else ("noui", "ui")):
                t = time.time()
                b.ui_run(wd, rnd) if kind == "ui" else b.noui_run(rnd)
                log(f"round {rnd + 1}/{args.rounds} {kind}: {time.time() - t:.1f} s")
    finally:
        if wd:
            wd.close()
        b.clean()
        for tag in (f"{PROJECT}/kubo:dev", f"{PROJECT}/app:dev"):
            subprocess.run(["docker", "rmi", tag], capture_output=True)
        shutil.rmtree(b.tmp, ignore_errors=True)
    text = report(b, facts, cmdline)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "command": cmdline, "samples": b.r}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
