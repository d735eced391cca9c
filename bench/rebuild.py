#!/usr/bin/env python3
"""Rebuild-on-save benchmark: pinshare-dev's watch loop vs the raw Engine API floor vs docker-compose 1.29,
plus pinshare-dev's live update and its idle cost while watching a large tree.

One run, on private copies of examples/offline (the kubo + PinShare stand-ins), all projects up at once:

  psd       `pinshare-dev -f <copy>/pinshare.toml up` in the foreground (project bench-rb-psd); per save: write a
            new value to app/VERSION, poll GET /version on the app's host port every 10 ms until it serves the
            value; then wait for pinshare-dev's own `pinshare » rebuilt in N ms: detect A, build B, swap C, ready D`
  floor     the same change with raw operations (project bench-rb-floor, Engine API over the unix socket): write
            VERSION, POST /build (classic builder, the context the Dockerfile needs), stop (SIGTERM) + remove the
            old app container, create + start the new one on the same network, poll GET /version
  compose   `docker-compose -p bench-rb-compose -f <generated file> up -d --build --no-deps pinshare`, poll
            GET /version (the file is bench/compose.yml with a `build:` for pinshare, made at run time)
  live      a second foreground `pinshare-dev up` (project bench-rb-live) whose app has
            live_update = { sync = [{ from = "app/VERSION", to = "/opt/pinshare/VERSION" }], restart = false };
            per save: poll GET /version, then wait for `pinshare » live-updated in N ms: ...`

Saves are interleaved (one per contender per round, order rotating each round). Then, with everything else
stopped, `idle`: a copy with 50,000 generated files under the watched app/src/gen and 20,000 under the ignored
app/target, `pinshare-dev up` in the foreground, and the process's RSS (VmRSS) and CPU time (utime+stime) sampled
for --idle-seconds once it printed `all services ready`.

Python 3.11 stdlib only. Only creates/removes Docker objects (containers, networks, volumes, images) whose names
start with `bench-rb`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tomllib
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ next to the bench scripts
sys.path.insert(0, str(Path(__file__).parent))
import cold_up  # noqa: E402
from cold_up import API, OFFLINE, REPO, SOCKET, Engine, EngineError, fmt, free_port, log, med  # noqa: E402

PREFIX = "bench-rb"
PSD = "bench-rb-psd"
LIVE = "bench-rb-live"
FLOOR = "bench-rb-floor"
COMPOSE = "bench-rb-compose"
IDLE = "bench-rb-idle"
CONTENDERS = ["psd", "floor", "compose", "live"]
LABELS = {
    "psd": "pinshare-dev rebuild on save (foreground up)",
    "floor": "floor (raw Engine API: build, stop, rm, create, start)",
    "compose": "docker-compose 1.29 up -d --build --no-deps pinshare",
    "live": "pinshare-dev live update (sync, no restart)",
}
POLL = 0.010  # GET /version poll period (s)
TIMEOUT = 120.0  # any single wait
TRIPLE = "target/x86_64-unknown-linux-gnu/release"
LIVE_UPDATE = 'live_update = { sync = [{ from = "app/VERSION", to = "/opt/pinshare/VERSION" }], restart = false }'

# A start-first swap says `start N, ready N, swap N`, a stop-first one `swap N, ready N`; `own` keeps the names.
REBUILT = re.compile(r"^pinshare\s*» rebuilt in (\d+) ms: detect (\d+), build (\d+), ((?:[a-z]+ \d+(?:, )?)+)$")
LIVE_UPDATED = re.compile(
    r"^pinshare\s*» live-updated in (\d+) ms: detect (\d+), sync (\d+), run (\d+), restart (\d+), ready (\d+) "
    r"\((\d+) copied, (\d+) deleted\)"
)
# Lines that mean a save did not go the expected way (recorded as anomalies).
ODD = re.compile(
    r"^pinshare\s*» (build failed|rebuild failed|live update failed|the new container is not ready|full rebuild"
    r"|image unchanged)"
)
ALL_READY = re.compile(r"all services ready; watching .*\((\d+) directories\)")
NOISE = re.compile(r"^pinshare\s*\| GET /(version|health) ")  # the app logs every request we poll with


# --------------------------------------------------------------------------------------------- small helpers


def http_get(port: int, path: str, timeout: float = 1.0, host: str = "127.0.0.1") -> tuple[int | None, str]:
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        c.close()


def wait_version(port: int, value: str, t0: float) -> float:
    """Polls GET /version every 10 ms until it serves `value`; returns perf_counter() of that answer."""
    while True:
        st, body = http_get(port, "/version")
        if st == 200 and body.strip() == value:
            return time.perf_counter()
        if time.perf_counter() - t0 > TIMEOUT:
            raise TimeoutError(f"127.0.0.1:{port}/version never served {value!r} (last: {st} {body.strip()!r})")
        time.sleep(POLL)


def write_version(ctx: Path, value: str) -> None:
    with open(ctx / "app" / "VERSION", "w") as f:
        f.write(value + "\n")


def copy_example(dst: Path) -> Path:
    """examples/offline without target/ (symlinks kept: the kubo double's busybox applets), plus the host-built
    binaries the Dockerfiles COPY."""
    shutil.copytree(OFFLINE, dst, symlinks=True, ignore=lambda d, names: ["target"] if Path(d) == OFFLINE else [])
    (dst / TRIPLE).mkdir(parents=True)
    for b in ("ipfs", "busybox", "pinshare"):
        shutil.copy2(OFFLINE / TRIPLE / b, dst / TRIPLE / b)
    return dst


def spec_copy(text: str, project: str, ports: dict[str, int], app_host_command: str | None = None,
              app_extra: str | None = None, watch: str | None = None) -> str:
    """The offline spec as tests/common/mod.rs `Project::offline_copy` rewrites it: own project name and image
    tags, free host ports, no host build (the binaries are already in the copy). Kept next to the copy's files,
    so the relative context and watch paths point into the copy."""
    out = []
    for line in text.splitlines():
        if line.startswith("build = {"):
            cut = line.find(", host_command")
            line = (line[:cut] + " }") if cut >= 0 else line
            if app_host_command and 'dockerfile = "app/Dockerfile"' in line:
                line = line[:-2] + f", host_command = {app_host_command} }}"
        if line.startswith("watch = {") and watch:
            line = watch
        if line.startswith("watch = {") and app_extra:
            out.append(app_extra)
        out.append(line)
    text = "\n".join(out) + "\n"
    text = text.replace('name = "pinshare-offline"', f'name = "{project}"')
    text = text.replace("pinshare-offline/kubo:dev", f"{project}/kubo:dev")
    text = text.replace("pinshare-offline/app:dev", f"{project}/app:dev")
    for spec_port, host in ports.items():
        text = text.replace(f'"{spec_port}:{spec_port}"', f'"{host}:{spec_port}"')
    assert project in text and "host_env" not in text, text
    return text


def context_tar(ctx: Path, files: list[str]) -> bytes:
    """A build context holding exactly `files` (directories recursively), as the Dockerfile needs them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for rel in files:
            t.add(str(ctx / rel), arcname=rel, recursive=True)
    return buf.getvalue()


APP_CONTEXT = ["app/Dockerfile", "app/rootfs", f"{TRIPLE}/pinshare", f"{TRIPLE}/ipfs", "app/VERSION"]
KUBO_CONTEXT = ["kubo/Dockerfile", "kubo/rootfs", "kubo/owned", "kubo/versions", f"{TRIPLE}/busybox", f"{TRIPLE}/ipfs"]


def engine_build(tag: str, dockerfile: str, tar: bytes) -> str:
    """POST /build (classic builder, like pinshare-dev: rm + forcerm); returns the image id."""
    conn = cold_up.UnixHTTPConnection(SOCKET)
    q = urllib.parse.urlencode({"t": tag, "dockerfile": dockerfile, "rm": "1", "forcerm": "1"})
    try:
        conn.request("POST", f"{API}/build?{q}", body=tar, headers={"Content-Type": "application/x-tar"})
        r = conn.getresponse()
        raw = r.read().decode(errors="replace")
    finally:
        conn.close()
    if r.status != 200:
        raise EngineError(f"build {tag}: HTTP {r.status}: {raw.strip()}")
    image = None
    for line in raw.splitlines():
        if not line.strip():
            continue
        msg = json.loads(line)
        if "errorDetail" in msg or "error" in msg:
            raise EngineError(f"build {tag}: {msg.get('error') or msg['errorDetail']}")
        if isinstance(msg.get("aux"), dict) and msg["aux"].get("ID"):
            image = msg["aux"]["ID"]
    if not image:
        raise EngineError(f"build {tag}: no image id in {raw[-500:]}")
    return image


def floor_kubo(e: Engine, ctx: Path, spec: dict, ports: dict[str, int], project: str, bench: str,
               app_env: dict[str, str] | None = None) -> tuple[dict, list[str]]:
    """The floor's set-up with raw Engine API calls: both images built from `ctx`, the network and volumes, and the
    kubo stand-in (its own entrypoint, CORS script PUT into /container-init.d) started and ready. Returns the app
    container's body (not created) and the image ids built."""
    kubo_tag, app_tag = f"{project}/kubo:dev", f"{project}/app:dev"
    images = [engine_build(kubo_tag, "kubo/Dockerfile", context_tar(ctx, KUBO_CONTEXT)),
              engine_build(app_tag, "app/Dockerfile", context_tar(ctx, APP_CONTEXT))]
    spec = json.loads(json.dumps(spec))
    spec["services"]["ipfs"]["image"] = kubo_tag
    spec["services"]["pinshare"]["image"] = app_tag
    spec["services"]["pinshare"].setdefault("env", {}).update(app_env or {})
    net, bodies = cold_up.floor_bodies(spec, ports, project, labels={"bench": bench})
    kubo_body, _ = bodies["ipfs"]
    app_body, _ = bodies["pinshare"]
    e.call("POST", "/networks/create", {"Name": net, "CheckDuplicate": True, "Labels": {"bench": bench}})
    for v in sorted({v for _, vs in bodies.values() for v in vs}):
        e.call("POST", "/volumes/create", {"Name": v, "Labels": {"bench": bench}})
    kubo = f"{project}-ipfs"
    e.call("POST", "/containers/create", kubo_body, query={"name": kubo})
    cold_up.put_init_script(e, kubo, cold_up.cors_tar())
    e.call("POST", f"/containers/{kubo}/start")
    cold_up.wait_200("POST", ports["5001"], "/api/v0/id", time.perf_counter() + TIMEOUT)
    return app_body, images


def remove_lock_files() -> None:
    """pinshare-dev's project lock files (`pinshare-dev-<project>.lock`, emptied but kept on exit) of our projects."""
    d = os.environ.get("XDG_RUNTIME_DIR")
    lock_dir = Path(d) if d and Path(d).is_dir() else Path(tempfile.gettempdir())
    for f in lock_dir.glob(f"pinshare-dev-{PREFIX}-*.lock"):
        f.unlink(missing_ok=True)


def proc_sample(pid: int) -> tuple[int, int, int]:
    """(VmRSS KiB, VmHWM KiB, utime+stime ticks) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    kib = {l.split(":")[0]: int(l.split()[1]) for l in status.splitlines() if l.startswith(("VmRSS", "VmHWM"))}
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return kib["VmRSS"], kib["VmHWM"], int(fields[11]) + int(fields[12])  # fields 14, 15 of stat(5)


def wakeups(pid: int) -> int:
    """Context switches (voluntary + involuntary) of all the process's threads so far."""
    n = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            for l in Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines():
                if l.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    n += int(l.split()[1])
        except OSError:
            pass
    return n


def inotify_watches(pid: int) -> int:
    """inotify watches the process holds (lines `inotify wd:` in the fdinfo of its inotify descriptors)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                n += sum(1 for l in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines() if l.startswith("inotify wd:"))
        except OSError:
            pass
    return n


class StartEvents(threading.Thread):
    """`start` events of one container, pushed by the engine on one streaming GET /events (no polling).

    The host-side /version poller of a pinshare-dev rebuild waits for the new container's `start` event before its
    first request: polling straight through the swap, a connection accepted by the new container's docker-proxy
    before the container's network is up stalls (until the client's 1 s timeout here) while pinshare-dev's own
    probe, sent after the start, answers in a few ms. The floor and compose pollers start after their start call
    or `up -d` returned, i.e. at the same point."""

    def __init__(self, container: str):
        super().__init__(daemon=True)
        self.conn = cold_up.UnixHTTPConnection(SOCKET, timeout=None)
        filters = {"type": ["container"], "event": ["start"], "container": [container]}
        self.conn.request("GET", f"{API}/events?" + urllib.parse.urlencode({"filters": json.dumps(filters)}))
        self.resp = self.conn.getresponse()  # subscribed from here on
        if self.resp.status != 200:
            raise EngineError(f"GET /events: HTTP {self.resp.status}")
        self.times: list[float] = []
        self.cond = threading.Condition()
        self.start()

    def run(self) -> None:
        try:
            while line := self.resp.readline():
                if line.strip():
                    with self.cond:
                        self.times.append(time.perf_counter())
                        self.cond.notify_all()
        except Exception:  # noqa: BLE001 - the stream ends when close() shuts the socket
            pass

    def count(self) -> int:
        with self.cond:
            return len(self.times)

    def wait(self, count: int, timeout: float = TIMEOUT) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.times) >= count, timeout):
                raise TimeoutError(f"no start event #{count}")
            return self.times[count - 1]

    def close(self) -> None:
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


# --------------------------------------------------------------------------------------------- pinshare-dev


class Foreground:
    """`pinshare-dev -f SPEC up` in the foreground, in its own session (so a Ctrl-C on the bench reaches it only
    once, from us), with every output line kept with its arrival time."""

    def __init__(self, binary: Path, spec: Path, name: str):
        self.spec, self.name, self.binary = spec, name, binary
        self.lines: list[tuple[float, str]] = []
        self.noise = 0
        self.cond = threading.Condition()
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(
            [str(binary), "-f", str(spec), "up"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=dict(os.environ, NO_COLOR="1"), cwd=spec.parent, start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.rc: int | None = None

    def _read(self) -> None:
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                if NOISE.search(line):
                    self.noise += 1
                else:
                    self.lines.append((time.perf_counter(), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def matches(self, rx: re.Pattern) -> list[tuple[float, re.Match]]:
        with self.cond:
            return [(t, m) for t, l in self.lines if (m := rx.search(l))]

    def wait_for(self, rx: re.Pattern, count: int, timeout: float = TIMEOUT) -> tuple[float, re.Match]:
        """The `count`-th line matching `rx` (1-based), waiting for it."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                found = [(t, m) for t, l in self.lines if (m := rx.search(l))]
                if len(found) >= count:
                    return found[count - 1]
                if self.p.poll() is not None and not self.reader.is_alive():
                    raise RuntimeError(f"{self.name}: pinshare-dev exited {self.p.returncode}:\n{self.tail()}")
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no line matching {rx.pattern!r} (#{count}):\n{self.tail()}")
                self.cond.wait(min(left, 0.5))

    def tail(self, n: int = 30) -> str:
        return "\n".join(l for _, l in self.lines[-n:])

    def stop(self) -> int | None:
        """SIGINT (it stops and removes its containers, exits 130), then `down --volumes`."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: still running 60 s after SIGINT; killing it")
                self.p.kill()
                self.p.wait()
        self.reader.join(5)
        self.rc = self.p.returncode
        subprocess.run([str(self.binary), "-f", str(self.spec), "down", "--volumes"], capture_output=True,
                       env=dict(os.environ, NO_COLOR="1"), timeout=TIMEOUT)
        return self.rc

    def log_lines(self) -> list[tuple[float, str]]:
        return [(round((t - self.t0) * 1000, 1), l) for t, l in self.lines]


# --------------------------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args):
        self.args = args
        self.engine = Engine()
        self.bin = Path(args.bin).resolve()
        self.spec_text = (OFFLINE / "pinshare.toml").read_text()
        self.spec = tomllib.loads(self.spec_text)
        self.spec_ports = [p.split(":")[-1] for s in self.spec["services"].values() for p in s.get("ports", [])]
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-rb-"))
        self.ctx: dict[str, Path] = {}
        self.ports: dict[str, dict[str, int]] = {}
        self.fg: dict[str, Foreground] = {}
        self.samples: dict[str, list[float]] = {c: [] for c in CONTENDERS}
        self.details: dict[str, list[dict]] = {c: [] for c in CONTENDERS}
        self.anomalies: list[str] = []
        self.images: set[str] = set()  # image ids we built (deleted at the end)
        self.tags: set[str] = set()
        self.logs: dict[str, list] = {}
        self.idle: dict = {}
        self.compose_file = self.tmp / "compose.rebuild.yml"
        self.events: StartEvents | None = None

    # ---- set-up (not timed)

    def host_build(self) -> None:
        """The spec's host builds (the static stand-ins), as `pinshare-dev up` would run them."""
        for name, svc in self.spec["services"].items():
            b = svc.get("build", {})
            if "host_command" in b:
                t = time.perf_counter()
                subprocess.run(b["host_command"], cwd=OFFLINE, env=dict(os.environ, **b.get("host_env", {})),
                               check=True, capture_output=True)
                log(f"host build for {name}: {(time.perf_counter() - t) * 1000:.0f} ms")

    def prepare(self) -> None:
        for key in ("psd", "live", "floor", "compose"):
            self.ctx[key] = copy_example(self.tmp / key)
            self.ports[key] = {p: free_port() for p in self.spec_ports}
        for key, project, extra in (("psd", PSD, None), ("live", LIVE, LIVE_UPDATE)):
            (self.ctx[key] / "pinshare.toml").write_text(
                spec_copy(self.spec_text, project, self.ports[key], app_extra=extra))
        self.tags.update(f"{p}/{s}:dev" for p in (PSD, LIVE, FLOOR, COMPOSE, IDLE) for s in ("kubo", "app"))
        self.write_compose_file()

    def write_compose_file(self) -> None:
        """bench/compose.yml with its own image tags and a `build:` for pinshare (context = the copy)."""
        src = Path(self.args.compose_file).resolve()
        text = Path(src).read_text()
        assert text.count(" ./kubo-cors.sh:") == 1
        text = text.replace(" ./kubo-cors.sh:", f" {src.parent / 'kubo-cors.sh'}:")
        text = text.replace("pinshare-offline/kubo:dev", f"{COMPOSE}/kubo:dev")
        ctx = self.ctx["compose"]
        build = (f"    image: {COMPOSE}/app:dev\n    build:\n      context: {ctx}\n"
                 f"      dockerfile: app/Dockerfile\n")
        assert text.count("    image: pinshare-offline/app:dev\n") == 1
        text = text.replace("    image: pinshare-offline/app:dev\n", build)
        self.compose_file.write_text(text)
        cp = self.ports["compose"]
        self.compose_env = dict(
            os.environ, DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0",
            BENCH_KUBO_API_PORT=str(cp["5001"]), BENCH_KUBO_GATEWAY_PORT=str(cp["8080"]),
            BENCH_KUBO_SWARM_PORT=str(cp["4001"]), BENCH_APP_PORT=str(cp["9090"]),
            BENCH_APP_P2P_PORT=str(cp["50001"]),
        )

    def start_foreground(self, key: str, project: str) -> None:
        fg = Foreground(self.bin, self.ctx[key] / "pinshare.toml", project)
        self.fg[key] = fg
        _, m = fg.wait_for(ALL_READY, 1, 300)
        log(f"{project}: all services ready after {(time.perf_counter() - fg.t0) * 1000:.0f} ms, "
            f"watching {m.group(1)} directories")

    def start_floor(self) -> None:
        """Kubo stand-in and the first app container, once."""
        self.floor_app_body, images = floor_kubo(self.engine, self.ctx["floor"], self.spec, self.ports["floor"],
                                                 FLOOR, "rebuild")
        self.images.update(images)
        e, app = self.engine, f"{FLOOR}-pinshare"
        e.call("POST", "/containers/create", self.floor_app_body, query={"name": app})
        e.call("POST", f"/containers/{app}/start")
        cold_up.wait_200("GET", self.ports["floor"]["9090"], "/health", time.perf_counter() + TIMEOUT)
        log("floor: kubo and app up")

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["docker-compose", "-p", COMPOSE, "-f", str(self.compose_file), *args]
        p = subprocess.run(cmd, env=self.compose_env, capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def start_compose(self) -> None:
        # Compose only builds pinshare (the file's kubo uses an image): build kubo's image first.
        self.images.add(engine_build(f"{COMPOSE}/kubo:dev", "kubo/Dockerfile", context_tar(self.ctx["compose"], KUBO_CONTEXT)))
        self.compose("up", "-d", "--build")
        cold_up.wait_200("GET", self.ports["compose"]["9090"], "/health", time.perf_counter() + TIMEOUT)
        log("compose: up")

    def note_images(self) -> None:
        """Remembers the ids our tags point at now: a later build untags them, and the end deletes them."""
        _, imgs = self.engine.call("GET", "/images/json")
        self.images.update(i["Id"] for i in imgs if any(t.startswith(PREFIX) for t in (i.get("RepoTags") or [])))

    # ---- one save per contender

    def save(self, key: str, label: str, record: bool) -> str:
        ctx, port = self.ctx[key], self.ports[key]["9090"]
        value = f"{key}-{label}-{os.urandom(3).hex()}"
        d: dict = {"value": value}
        if key in ("psd", "live"):
            fg = self.fg[key]
            rx = REBUILT if key == "psd" else LIVE_UPDATED
            n_done, n_odd = len(fg.matches(rx)), len(fg.matches(ODD))
            n_start = self.events.count() if key == "psd" else 0
            t0 = time.perf_counter()
            write_version(ctx, value)
            if key == "psd":  # the live update keeps its container: no start to wait for
                d["started_ms"] = (self.events.wait(n_start + 1) - t0) * 1000
            t1 = wait_version(port, value, t0)
            t_line, m = fg.wait_for(rx, n_done + 1)
            d["line_at_ms"] = (t_line - t0) * 1000
            d["t0_in_output_ms"] = round((t0 - fg.t0) * 1000, 1)  # aligns with the times of pinshare_dev_output
            if key == "psd":
                d["own"] = dict(zip(["total", "detect", "build"], map(int, m.groups()[:3])))
                d["own"].update({k: int(v) for k, v in (kv.split() for kv in m.group(4).split(", "))})
            else:
                names = ["total", "detect", "sync", "run", "restart", "ready", "copied", "deleted"]
                d["own"] = dict(zip(names, map(int, m.groups())))
            odd = fg.matches(ODD)[n_odd:]
            if odd:
                d["odd"] = [mm.string for _, mm in odd]
        elif key == "floor":
            e, app = self.engine, f"{FLOOR}-pinshare"
            t0 = time.perf_counter()
            write_version(ctx, value)
            image = engine_build(f"{FLOOR}/app:dev", "app/Dockerfile", context_tar(ctx, APP_CONTEXT))
            tb = time.perf_counter()
            e.call("POST", f"/containers/{app}/stop", query={"t": "5"}, ok=(204, 304))
            e.call("DELETE", f"/containers/{app}")
            e.call("POST", "/containers/create", dict(self.floor_app_body, Image=image), query={"name": app})
            e.call("POST", f"/containers/{app}/start")
            ts = time.perf_counter()
            t1 = wait_version(port, value, t0)
            self.images.add(image)
            d["own"] = {"build": (tb - t0) * 1000, "swap": (ts - tb) * 1000, "ready": (t1 - ts) * 1000}
            d["started_ms"] = (ts - t0) * 1000
        else:
            t0 = time.perf_counter()
            write_version(ctx, value)
            p = self.compose("up", "-d", "--build", "--no-deps", "pinshare")
            tu = time.perf_counter()
            t1 = wait_version(port, value, t0)
            d["own"] = {"up returned": (tu - t0) * 1000, "after up": (t1 - tu) * 1000}
            d["started_ms"] = (tu - t0) * 1000
            d["compose_output"] = p.stderr.strip().splitlines()[-6:]
        ms = (t1 - t0) * 1000
        d["ms"] = ms
        self.note_images()
        if record:
            self.samples[key].append(ms)
            self.details[key].append(d)
            if d.get("odd"):
                self.anomalies.append(f"{key} save {value}: " + "; ".join(d["odd"]))
        own = d.get("own", {})
        extra = (f" (own line: {own.get('total')} ms)" if key in ("psd", "live") else
                 " (" + ", ".join(f"{k} {v:.0f}" for k, v in own.items()) + ")")
        return f"{ms:.0f} ms{extra}"

    # ---- idle cost while watching a large tree

    def run_idle(self) -> None:
        ctx = copy_example(self.tmp / "idle")
        gen, tgt = ctx / "app" / "src" / "gen", ctx / "app" / "target"
        n_dirs, per_dir = self.args.idle_dirs, self.args.idle_files_per_dir
        t = time.perf_counter()
        for i in range(n_dirs):
            d = gen / f"m{i:04d}"
            d.mkdir(parents=True)
            for j in range(per_dir):
                (d / f"f{j:03d}.rs").write_text(f"pub const X: u32 = {i * per_dir + j};\n")
        for i in range(self.args.idle_target_dirs):
            d = tgt / "debug" / "deps" / f"d{i:04d}"
            d.mkdir(parents=True)
            for j in range(100):
                (d / f"o{j:03d}.o").write_bytes(b"\0" * 64)
        gen_s = time.perf_counter() - t
        ports = {p: free_port() for p in self.spec_ports}
        # The offline spec has no host build, so pinshare-dev lets app/Dockerfile.dockerignore (`**` + the few
        # files the image copies) decide relevance and would not watch app/src at all. A host build (as PinShare's
        # Go build) makes every watched source an input: host_command = ["true"] makes the tree count.
        watch = 'watch = { paths = ["app"], ignore = ["target"] }'
        (ctx / "pinshare.toml").write_text(
            spec_copy(self.spec_text, IDLE, ports, app_host_command='["true"]', watch=watch))
        explain = subprocess.run(
            [str(self.bin), "-f", str(ctx / "pinshare.toml"), "watch", "--explain",
             str(gen / "m0000" / "f000.rs"), str(tgt / "debug" / "deps" / "d0000" / "o000.o")],
            capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1")).stdout.strip()
        fg = Foreground(self.bin, ctx / "pinshare.toml", IDLE)
        self.fg["idle"] = fg
        try:
            t_ready, m = fg.wait_for(ALL_READY, 1, 300)
            self.note_images()
            pin_ready = [t for t, l in fg.lines if re.search(r"^pinshare\s*» ready", l)]
            pid = fg.p.pid
            watches = inotify_watches(pid)
            samples = []
            cs0, threads = wakeups(pid), len(os.listdir(f"/proc/{pid}/task"))
            clk = os.sysconf("SC_CLK_TCK")
            end = time.perf_counter() + self.args.idle_seconds
            while True:
                now = time.perf_counter()
                rss, hwm, ticks = proc_sample(pid)
                samples.append((now, rss, hwm, ticks))
                if now >= end:
                    break
                time.sleep(min(0.5, end - now))
            cs1 = wakeups(pid)
            lines_in_window = [l for t, l in fg.lines if t > t_ready]
            wall = samples[-1][0] - samples[0][0]
            cpu_s = (samples[-1][3] - samples[0][3]) / clk
            _, hwm_end, ticks_end = proc_sample(pid)
            self.idle = {
                "files_watched_tree": n_dirs * per_dir,
                "dirs_watched_tree": n_dirs,
                "files_ignored_target": self.args.idle_target_dirs * 100,
                "generate_s": gen_s,
                "spec_watch": watch,
                "explain": explain,
                "directories_reported": int(m.group(1)),
                "inotify_watches": watches,
                "watcher_setup_ms": (t_ready - pin_ready[-1]) * 1000 if pin_ready else None,
                "up_to_all_ready_ms": (t_ready - fg.t0) * 1000,
                "window_s": wall,
                "rss_max_kib": max(s[1] for s in samples),
                "rss_min_kib": min(s[1] for s in samples),
                "vmhwm_kib": hwm_end,
                "cpu_s": cpu_s,
                "cpu_pct": 100 * cpu_s / wall if wall else None,
                "cpu_s_since_start": ticks_end / clk,
                "threads": threads,
                "context_switches_per_s": (cs1 - cs0) / wall if wall else None,
                "samples": [(round(s[0] - samples[0][0], 2), s[1], s[3]) for s in samples],
                "lines_in_window": lines_in_window,
            }
        finally:
            rc = fg.stop()
            self.logs["idle"] = fg.log_lines()
            log(f"idle: pinshare-dev exited {rc} after SIGINT")
            if rc != 130:
                self.anomalies.append(f"idle: pinshare-dev exited {rc} after SIGINT (expected 130)")

    # ---- cleaning

    def clean_all(self) -> None:
        if self.events:
            self.events.close()
            self.events = None
        for key, fg in list(self.fg.items()):
            if fg.rc is None:
                try:
                    rc = fg.stop()
                    if rc != 130:
                        self.anomalies.append(f"{key}: pinshare-dev exited {rc} after SIGINT (expected 130)")
                except Exception as err:  # noqa: BLE001 - best effort, then purge by name
                    log(f"cleanup {key}: {err}")
                self.logs.setdefault(key, fg.log_lines())
        if self.compose_file.exists():
            try:
                self.compose("down", "-v", "--remove-orphans", check=False)
            except Exception as err:  # noqa: BLE001
                log(f"cleanup compose: {err}")
        self.engine.purge(PREFIX)
        for tag in sorted(self.tags | set(self.bench_images())):
            self.engine.call("DELETE", f"/images/{tag}", ok=(200, 404, 409))
        for image in sorted(self.images):
            self.engine.call("DELETE", f"/images/{image}", ok=(200, 404, 409))
        self.images.clear()

    def bench_images(self) -> list[str]:
        _, imgs = self.engine.call("GET", "/images/json")
        return [t for i in imgs for t in (i.get("RepoTags") or []) if t.startswith(PREFIX)]


# --------------------------------------------------------------------------------------------- report


def stats(xs: list[float]) -> tuple:
    return (med(xs), min(xs) if xs else None, max(xs) if xs else None)


def report(b: Bench, facts: dict, args, cmdline: str) -> str:
    s = b.samples
    floor, comp = med(s["floor"]), med(s["compose"])
    out = [f"## Save → the new /version served from the host, {args.saves} saves per contender "
           "(interleaved, rotating order)", ""]
    out.append("| contender | median ms | min | max | ratio to floor | ratio to compose |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for key in CONTENDERS:
        m, lo, hi = stats(s[key])
        out.append(f"| {LABELS[key]} | {fmt(m)} | {fmt(lo)} | {fmt(hi)} | {fmt(m / floor if m and floor else None, 2)} "
                   f"| {fmt(m / comp if m and comp else None, 2)} |")

    def paired(a: str, ref: str):
        xs = [x / y for x, y in zip(s[a], s[ref])]
        return statistics.median(xs) if xs else None

    out += ["", f"Paired (median of per-round ratios): pinshare-dev / floor {fmt(paired('psd', 'floor'), 2)}, "
            f"/ compose {fmt(paired('psd', 'compose'), 2)}; live update / floor {fmt(paired('live', 'floor'), 2)}", ""]

    def own(key: str, field: str):
        return med([d["own"].get(field) for d in b.details[key] if "own" in d])

    def started(key: str):
        return med([d.get("started_ms") for d in b.details[key]])

    out += ["Where the time goes (median ms; psd's `started` is the engine's start event, the floor's the start "
            "call's return):", "",
            "| contender | detect (debounce) | build | swap / sync | ready | its own total | save → new container "
            "started | save → its line printed |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| pinshare-dev rebuild (its timing line) | {fmt(own('psd', 'detect'))} | {fmt(own('psd', 'build'))} "
            f"| {fmt(own('psd', 'swap'))} | {fmt(own('psd', 'ready'))} | {fmt(own('psd', 'total'))} "
            f"| {fmt(started('psd'))} | {fmt(med([d['line_at_ms'] for d in b.details['psd']]))} |",
            f"| floor (measured here; ready = until the new /version) | – | {fmt(own('floor', 'build'))} "
            f"| {fmt(own('floor', 'swap'))} | {fmt(own('floor', 'ready'))} | {fmt(floor)} | {fmt(started('floor'))} "
            "| – |",
            f"| live update (its timing line) | {fmt(own('live', 'detect'))} | – | {fmt(own('live', 'sync'))} "
            f"| {fmt(own('live', 'ready'))} | {fmt(own('live', 'total'))} | – "
            f"| {fmt(med([d['line_at_ms'] for d in b.details['live']]))} |",
            "",
            "Image build per save (ms, sorted): pinshare-dev "
            f"{sorted(d['own']['build'] for d in b.details['psd'])}, floor "
            f"{sorted(round(d['own']['build']) for d in b.details['floor'])}",
            "",
            f"docker-compose: `up -d --build --no-deps pinshare` returned after {fmt(own('compose', 'up returned'))} ms "
            f"(median), the new /version came {fmt(own('compose', 'after up'))} ms later.", ""]

    i = b.idle
    if i:
        out += [f"## Idle while watching ({i['files_watched_tree']:,} files in {i['dirs_watched_tree']} directories "
                f"under app/src/gen, {i['files_ignored_target']:,} files under the ignored app/target)", "",
                f"- spec: `{i['spec_watch']}`, pinshare build with `host_command = [\"true\"]` (see README)",
                f"- pinshare-dev reported watching {i['directories_reported']} directories; inotify watches held by "
                f"the process: {i['inotify_watches']} (fs.inotify.max_user_watches = {facts['inotify_max_user_watches']})",
                f"- watcher set-up (pinshare `ready` → `all services ready` line): {fmt(i['watcher_setup_ms'])} ms; "
                f"`up` start → all services ready: {fmt(i['up_to_all_ready_ms'])} ms",
                f"- over {i['window_s']:.1f} s after `all services ready`: RSS max {i['rss_max_kib'] / 1024:.1f} MiB "
                f"(min {i['rss_min_kib'] / 1024:.1f}), VmHWM (peak since start) {i['vmhwm_kib'] / 1024:.1f} MiB; "
                f"CPU {i['cpu_s']:.2f} s = {fmt(i['cpu_pct'], 2)} % of one core "
                f"(CPU since start: {i['cpu_s_since_start']:.2f} s); {i['threads']} threads, "
                f"{fmt(i['context_switches_per_s'])} context switches/s (all threads)",
                f"- output lines during the window: {len(i['lines_in_window'])}"
                + (f" (first: {i['lines_in_window'][0]!r})" if i["lines_in_window"] else ""),
                f"- `watch --explain`: {' | '.join(i['explain'].splitlines())}", ""]

    ok = lambda c: "MET" if c else "NOT MET"  # noqa: E731
    psd, live = med(s["psd"]), med(s["live"])
    out.append("Targets:")
    if psd and floor and comp:
        out += [f"- rebuild ≤ 1.2 × floor: {psd / floor:.2f} × (ratio of medians; paired "
                f"{fmt(paired('psd', 'floor'), 2)}) → {ok(psd <= 1.2 * floor)}",
                f"- rebuild ≤ 0.3 × compose: {psd / comp:.2f} × (paired {fmt(paired('psd', 'compose'), 2)}) → "
                f"{ok(psd <= 0.3 * comp)}"]
    if live:
        out.append(f"- live update ≤ 0.5 s median: {live:.0f} ms → {ok(live <= 500)}")
    if i:
        rss = i["rss_max_kib"] / 1024
        out += [f"- idle RSS ≤ 25 MB: {rss:.1f} MiB ({i['rss_max_kib'] * 1024 / 1e6:.1f} MB) → "
                f"{ok(i['rss_max_kib'] * 1024 <= 25e6)}",
                f"- idle CPU ≤ 1 %: {i['cpu_pct']:.2f} % → {ok(i['cpu_pct'] <= 1)}"]
    polls = ", ".join(f"{k} {fg.noise}" for k, fg in b.fg.items())
    out += ["", f"The app logs every request it serves and the foreground `up`s print them: {polls} "
            "`pinshare | GET /version|/health` lines (counted, not kept)."]
    if b.anomalies:
        out += ["", "Anomalies:"] + [f"- {a}" for a in b.anomalies]
    facts["loadavg_end"] = os.getloadavg()
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), "", f"Command: {cmdline}"]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--saves", type=int, default=10, help="recorded saves per contender (default 10)")
    ap.add_argument("--idle-seconds", type=float, default=60, help="idle sampling window (default 60)")
    ap.add_argument("--idle-dirs", type=int, default=500, help="generated watched directories (default 500)")
    ap.add_argument("--idle-files-per-dir", type=int, default=100, help="files per generated directory (100)")
    ap.add_argument("--idle-target-dirs", type=int, default=200, help="ignored app/target dirs × 100 files (200)")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--json", metavar="PATH", help="save raw samples, stage figures and pinshare-dev output")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    ap.add_argument("--compose-file", default=str(REPO / "bench" / "compose.yml"))
    args = ap.parse_args()
    if not Path(args.bin).is_file():
        ap.error(f"{args.bin} missing: run `cargo build --release` first")
    cmdline = "python3 " + shlex.join(sys.argv)

    b = Bench(args)
    facts = cold_up.facts(b.engine, b.bin)
    facts["inotify_max_user_watches"] = Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip()
    facts["inotify_max_user_instances"] = Path("/proc/sys/fs/inotify/max_user_instances").read_text().strip()
    try:
        b.clean_all()
        b.host_build()
        b.prepare()
        log(f"copies in {b.tmp}; starting the four projects (not timed)")
        b.start_foreground("psd", PSD)
        b.events = StartEvents(f"{PSD}-pinshare")
        b.start_foreground("live", LIVE)
        b.start_floor()
        b.start_compose()
        b.note_images()
        for key in CONTENDERS:
            log(f"warm-up {key}: {b.save(key, 'warm', record=False)}")
        for r in range(args.saves):
            order = CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[: r % len(CONTENDERS)]
            for key in order:
                log(f"save {r + 1}/{args.saves} {key}: {b.save(key, f'r{r + 1}', record=True)}")
        for key in ("psd", "live"):
            n = len(b.fg[key].matches(REBUILT if key == "psd" else LIVE_UPDATED))
            if n != args.saves + 1:
                b.anomalies.append(f"{key}: {n} timing lines for {args.saves + 1} saves")
            if key == "live" and b.fg[key].matches(REBUILT):
                b.anomalies.append(f"live: {len(b.fg[key].matches(REBUILT))} full rebuilds")
            rc = b.fg[key].stop()
            b.logs[key] = b.fg[key].log_lines()
            if rc != 130:
                b.anomalies.append(f"{key}: pinshare-dev exited {rc} after SIGINT (expected 130)")
        b.compose("down", "-v", "--remove-orphans")
        b.engine.purge(FLOOR)
        if not args.skip_idle:
            b.run_idle()
    finally:
        b.clean_all()
        left = b.engine.leftovers(PREFIX) + b.bench_images()
        if left:
            log(f"left over: {', '.join(left)}")
        shutil.rmtree(b.tmp, ignore_errors=True)
        if all(fg.p.poll() is not None for fg in b.fg.values()):
            remove_lock_files()
    text = report(b, facts, args, cmdline)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "facts": facts, "command": cmdline, "saves": args.saves,
            "samples_ms": b.samples, "details": b.details, "idle": b.idle, "anomalies": b.anomalies,
            "pinshare_dev_output": b.logs,
        }, indent=1, default=str))
        log(f"raw samples saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
