#!/usr/bin/env python3
"""Cold `up` benchmark: pinshare-dev vs the raw Engine API floor vs docker-compose 1.29.

Per round (contenders interleaved, order rotating each round), from nothing (no containers, network or volumes
of the project; images and stand-in binaries already built):

  psd           target/release/pinshare-dev -f <spec> up --detach, until it exits 0 (= both services ready);
                then a no-op `up --detach` on the running project; then `down --volumes` (not timed)
  floor         the same Docker operations straight on the Engine API (unix socket, /v1.41) + first passing
                probe: network, 2 volumes, kubo repo one-shots (init + one `config --json` per key), kubo
                container, poll /api/v0/id, app container, poll /health; until the app's first 200
  compose-1s    docker-compose up -d + polling `docker inspect` until the app container is healthy,
  compose-100ms   with healthcheck interval 1s and 100ms (bench/compose.offline.yml, ${HC_INTERVAL})

Python 3 stdlib only. Only creates/removes Docker objects whose names start with `bench-`.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OFFLINE = REPO / "examples" / "offline"
SOCKET = "/var/run/docker.sock"
API = "/v1.41"

PSD_PROJECT = "bench-psd"
FLOOR_PROJECT = "bench-floor"
COMPOSE_PROJECT = "bench-compose"
CONTENDERS = ["psd", "floor", "compose-1s", "compose-100ms"]
LABELS = {
    "psd": "pinshare-dev cold up --detach",
    "floor": "floor (raw Engine API)",
    "compose-1s": "docker-compose 1.29, hc interval 1s",
    "compose-100ms": "docker-compose 1.29, hc interval 100ms",
}
POLL = 0.010  # probe poll period (s)
INSPECT_POLL = 0.020  # `docker inspect` health poll period (s)
TIMEOUT = 120.0  # any single wait


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- Engine API


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket."""

    def __init__(self, path: str, timeout: float = TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class EngineError(RuntimeError):
    pass


class Engine:
    """A keep-alive connection to the Docker Engine API (one per thread)."""

    def __init__(self, path: str = SOCKET):
        self.path = path
        self.conn = UnixHTTPConnection(path)

    def call(self, method: str, path: str, body=None, query: dict | None = None, ok=(200, 201, 204)):
        url = API + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            try:
                self.conn.request(method, url, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the engine closed: reconnect once.
                self.conn.close()
                self.conn = UnixHTTPConnection(self.path)
                if attempt:
                    raise
        if resp.status not in ok:
            raise EngineError(f"{method} {path}: HTTP {resp.status}: {raw.decode(errors='replace').strip()}")
        if not raw:
            return resp.status, None
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    # Helpers used outside the timed section.
    def names(self, kind: str, prefix: str) -> list[str]:
        if kind == "containers":
            _, cs = self.call("GET", "/containers/json", query={"all": "1", "filters": json.dumps({"name": [prefix]})})
            return [n.lstrip("/") for c in cs for n in c["Names"] if n.lstrip("/").startswith(prefix)]
        if kind == "networks":
            _, ns = self.call("GET", "/networks", query={"filters": json.dumps({"name": [prefix]})})
            return [n["Name"] for n in ns if n["Name"].startswith(prefix)]
        _, vs = self.call("GET", "/volumes", query={"filters": json.dumps({"name": [prefix]})})
        return [v["Name"] for v in (vs.get("Volumes") or []) if v["Name"].startswith(prefix)]

    def leftovers(self, prefix: str) -> list[str]:
        return [f"{k[:-1]} {n}" for k in ("containers", "networks", "volumes") for n in self.names(k, prefix)]

    def purge(self, prefix: str) -> None:
        """Removes every container, network and volume whose name starts with `prefix` (always `bench-...`)."""
        assert prefix.startswith("bench-"), prefix
        for n in self.names("containers", prefix):
            self.call("DELETE", f"/containers/{n}", query={"force": "1", "v": "1"}, ok=(204, 404))
        for n in self.names("networks", prefix):
            self.call("DELETE", f"/networks/{n}", ok=(204, 404))
        for n in self.names("volumes", prefix):
            self.call("DELETE", f"/volumes/{n}", ok=(204, 404))


# --------------------------------------------------------------------------------------------- the spec


def cpu_millis(v: str) -> int:
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def mem_bytes(v: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "K": 10**3, "M": 10**6, "G": 10**9}
    for u in sorted(units, key=len, reverse=True):
        if v.endswith(u):
            return int(float(v[: -len(u)]) * units[u])
    return int(v)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psd_spec(text: str, ports: dict[str, int]) -> str:
    """The offline spec as tests/common/mod.rs rewrites it: own name, absolute paths, free host ports."""
    text = text.replace('name = "pinshare-offline"', f'name = "{PSD_PROJECT}"')
    text = text.replace('context = "."', f'context = "{OFFLINE}"')
    text = text.replace("host_env = {", f'host_workdir = "{OFFLINE}", host_env = {{')
    for spec_port, host in ports.items():
        text = text.replace(f'"{spec_port}:{spec_port}"', f'"{host}:{spec_port}"')
    return text


# --------------------------------------------------------------------------------------------- probes


def http_status(method: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        return r.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        c.close()


def wait_200(method: str, port: int, path: str, deadline: float) -> float:
    while True:
        if http_status(method, port, path) == 200:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{method} 127.0.0.1:{port}{path}: no 200")
        time.sleep(POLL)


class FirstOk(threading.Thread):
    """Records when GET /health on the app's published port first answers 200 (ms since t0).

    It waits until the app container is running (Engine API, every 5 ms) before it polls /health every 10 ms:
    connecting to the published port while the container's network is still being set up made the engine's
    docker-proxy dial the container address too early, and every connection to it then stalled ~0.7 s
    (ARP retry, net.ipv4.neigh.*.retrans_time_ms = 1000), which would have slowed the contender measured.
    """

    def __init__(self, port: int, container: str, t0: float):
        super().__init__(daemon=True)
        self.port, self.container, self.t0 = port, container, t0
        self.at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        engine = Engine()
        while not self.stop.is_set() and time.perf_counter() - self.t0 < TIMEOUT:
            st, c = engine.call("GET", f"/containers/{self.container}/json", ok=(200, 404))
            if st == 200 and c["State"]["Running"]:
                break
            self.stop.wait(0.005)
        while not self.stop.is_set() and time.perf_counter() - self.t0 < TIMEOUT:
            if http_status("GET", self.port, "/health", timeout=0.5) == 200:
                self.at = (time.perf_counter() - self.t0) * 1000
                return
            self.stop.wait(POLL)

    def result(self, grace: float = 5.0) -> float | None:
        """The first 200 (waiting up to `grace` s more for it), or None."""
        self.join(grace)
        self.stop.set()
        self.join()
        return self.at


# --------------------------------------------------------------------------------------------- contenders


class Bench:
    def __init__(self, args):
        self.args = args
        self.engine = Engine()
        self.bin = Path(args.bin).resolve()
        self.compose_file = Path(args.compose_file).resolve()
        self.spec_src = OFFLINE / "pinshare.toml"
        self.spec = tomllib.loads(self.spec_src.read_text())
        spec_ports = [p.split(":")[-1] for s in self.spec["services"].values() for p in s.get("ports", [])]
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-psd-"))
        self.psd_ports = {p: free_port() for p in spec_ports}
        self.psd_spec = self.tmp / "pinshare.toml"
        self.psd_spec_text = psd_spec(self.spec_src.read_text(), self.psd_ports)
        self.psd_spec.write_text(self.psd_spec_text)
        self.floor_ports = {p: free_port() for p in spec_ports}
        cp = {p: free_port() for p in spec_ports}
        self.compose_env = dict(
            os.environ,
            BENCH_KUBO_API_PORT=str(cp["5001"]),
            BENCH_KUBO_GATEWAY_PORT=str(cp["8080"]),
            BENCH_KUBO_SWARM_PORT=str(cp["4001"]),
            BENCH_APP_PORT=str(cp["9090"]),
            BENCH_APP_P2P_PORT=str(cp["50001"]),
            HC_INTERVAL="1s",
        )
        self.compose_app_port = cp["9090"]
        self.samples: dict[str, list[float]] = {c: [] for c in CONTENDERS}
        self.samples["noop"] = []
        self.first200: dict[str, list[float]] = {c: [] for c in CONTENDERS}
        self.milestones: dict[str, list[dict[str, float]]] = {c: [] for c in CONTENDERS}
        self.psd_logs: list[list[tuple[float, str]]] = []

    # ---- pinshare-dev

    def psd(self, *args: str, timed_lines: bool = False):
        cmd = [str(self.bin), "-f", str(self.psd_spec), *args]
        env = dict(os.environ, NO_COLOR="1")
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        lines = []
        for raw in p.stdout:
            lines.append(((time.perf_counter() - t0) * 1000, raw.decode(errors="replace").rstrip("\n")))
        rc = p.wait()
        ms = (time.perf_counter() - t0) * 1000
        if rc != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {rc}:\n" + "\n".join(l for _, l in lines[-30:]))
        return ms, lines

    def psd_clean(self) -> None:
        self.psd("down", "--volumes")

    def run_psd(self) -> str:
        self.assert_clean(PSD_PROJECT)
        t0 = time.perf_counter()
        probe = FirstOk(self.psd_ports["9090"], f"{PSD_PROJECT}-pinshare", t0)
        probe.start()
        ms, lines = self.psd("up", "--detach")
        first = probe.result()
        noop, _ = self.psd("up", "--detach")
        self.psd_clean()
        self.samples["psd"].append(ms)
        self.samples["noop"].append(noop)
        self.first200["psd"].append(first)
        self.psd_logs.append(lines)
        self.milestones["psd"].append(psd_milestones(lines, ms))
        return f"{ms:.0f} ms (no-op {noop:.0f} ms)"

    # ---- the floor

    def floor_bodies(self):
        p = FLOOR_PROJECT
        net = f"{p}_net"
        labels = {"bench": "floor"}
        out = {}
        for name, svc in self.spec["services"].items():
            mounts = []
            for v in svc.get("volumes", []):
                src, tgt = v.split(":")[:2]
                mounts.append({"Type": "volume", "Source": f"{p}_{src}", "Target": tgt, "ReadOnly": False})
            bindings, exposed = {}, {}
            for spec_port in (x.split(":")[-1] for x in svc.get("ports", [])):
                key = f"{spec_port}/tcp"
                bindings.setdefault(key, []).append({"HostIp": "127.0.0.1", "HostPort": str(self.floor_ports[spec_port])})
                exposed[key] = {}
            r = svc.get("resources", {})
            env = [f"{k}={v}" for k, v in sorted(svc.get("env", {}).items())]
            body = {
                "Image": svc["image"],
                "Hostname": name,
                "Env": env,
                "Labels": labels,
                "ExposedPorts": exposed,
                "StopTimeout": int(svc.get("stop_grace", "10s").rstrip("s")),
                "HostConfig": {
                    "PortBindings": bindings,
                    "Mounts": mounts,
                    "CpuShares": max(cpu_millis(r["cpu"]) * 1024 // 1000, 2),
                    "NanoCpus": cpu_millis(r["cpu_limit"]) * 1_000_000,
                    "Memory": mem_bytes(r["memory_limit"]),
                    "MemoryReservation": mem_bytes(r["memory"]),
                    "Init": True,
                    "NetworkMode": net,
                },
                "NetworkingConfig": {"EndpointsConfig": {net: {"Aliases": [name]}}},
            }
            one_shot = {
                "Image": svc["image"],
                "Entrypoint": ["ipfs"],
                "User": "1000:100",
                "Env": env,
                "Labels": labels,
                "HostConfig": {"Mounts": mounts},
            }
            out[name] = (body, one_shot, [f"{p}_{v.split(':')[0]}" for v in svc.get("volumes", [])])
        return net, out

    def run_floor(self) -> str:
        self.assert_clean(FLOOR_PROJECT)
        net, bodies = self.floor_bodies()
        kubo_body, kubo_shot, _ = bodies["ipfs"]
        app_body, _, _ = bodies["pinshare"]
        volumes = sorted({v for _, _, vs in bodies.values() for v in vs})
        profile = self.spec["services"]["ipfs"].get("env", {}).get("IPFS_PROFILE")
        steps = [["init", "--profile", profile] if profile else ["init"]]
        for k, v in self.spec["services"]["ipfs"].get("kubo_config", {}).items():
            steps.append(["config", "--json", k, json.dumps(v, separators=(",", ":"))])
        e = self.engine
        m: dict[str, float] = {}
        try:
            t0 = time.perf_counter()
            deadline = t0 + TIMEOUT
            mark = lambda k: m.__setitem__(k, (time.perf_counter() - t0) * 1000)  # noqa: E731
            e.call("POST", "/networks/create", {"Name": net, "CheckDuplicate": True, "Labels": {"bench": "floor"}})
            for v in volumes:
                e.call("POST", "/volumes/create", {"Name": v, "Labels": {"bench": "floor"}})
            mark("network+volumes")
            init = f"{FLOOR_PROJECT}-ipfs-init"
            for argv in steps:
                e.call("POST", "/containers/create", dict(kubo_shot, Cmd=argv), query={"name": init})
                e.call("POST", f"/containers/{init}/start")
                _, w = e.call("POST", f"/containers/{init}/wait")
                if w.get("StatusCode") != 0:
                    raise RuntimeError(f"floor: ipfs {' '.join(argv)} exited {w}")
                e.call("DELETE", f"/containers/{init}")
            mark("kubo repo ready")
            kubo = f"{FLOOR_PROJECT}-ipfs"
            e.call("POST", "/containers/create", kubo_body, query={"name": kubo})
            e.call("POST", f"/containers/{kubo}/start")
            mark("ipfs started")
            wait_200("POST", self.floor_ports["5001"], "/api/v0/id", deadline)
            mark("ipfs ready")
            app = f"{FLOOR_PROJECT}-pinshare"
            e.call("POST", "/containers/create", app_body, query={"name": app})
            e.call("POST", f"/containers/{app}/start")
            mark("pinshare started")
            wait_200("GET", self.floor_ports["9090"], "/health", deadline)
            ms = (time.perf_counter() - t0) * 1000
            m["pinshare ready"] = ms
        finally:
            e.purge(FLOOR_PROJECT)
        self.samples["floor"].append(ms)
        self.first200["floor"].append(ms)
        self.milestones["floor"].append(m)
        return f"{ms:.0f} ms"

    # ---- docker-compose

    def compose(self, interval: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.compose_env, HC_INTERVAL=interval)
        cmd = ["docker-compose", "-p", COMPOSE_PROJECT, "-f", str(self.compose_file), *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def compose_clean(self, interval: str = "1s") -> None:
        self.compose(interval, "down", "-v", "--remove-orphans")

    def run_compose(self, key: str) -> str:
        interval = key.split("-", 1)[1]
        self.assert_clean(COMPOSE_PROJECT)
        app = f"{COMPOSE_PROJECT}_pinshare_1"
        m: dict[str, float] = {}
        try:
            t0 = time.perf_counter()
            probe = FirstOk(self.compose_app_port, app, t0)
            probe.start()
            self.compose(interval, "up", "-d")
            m["up -d returned"] = (time.perf_counter() - t0) * 1000
            while True:
                p = subprocess.run(
                    ["docker", "inspect", "-f", "{{.State.Health.Status}}", app], capture_output=True, text=True
                )
                status = p.stdout.strip()
                if status == "healthy":
                    break
                if status == "unhealthy" or time.perf_counter() - t0 > TIMEOUT:
                    raise RuntimeError(f"compose: {app} is {status or p.stderr.strip()}")
                time.sleep(INSPECT_POLL)
            ms = (time.perf_counter() - t0) * 1000
            m["pinshare healthy"] = ms
            first = probe.result()
            if first is not None:
                m["first /health 200"] = first
        finally:
            self.compose_clean(interval)
        self.samples[key].append(ms)
        self.first200[key].append(first)
        self.milestones[key].append(m)
        return f"{ms:.0f} ms (first /health 200 at {first:.0f} ms)" if first else f"{ms:.0f} ms"

    # ---- common

    def assert_clean(self, prefix: str) -> None:
        left = self.engine.leftovers(prefix)
        if left:
            raise RuntimeError(f"not starting from nothing: {', '.join(left)} exist")

    def clean_all(self) -> None:
        for f in (self.psd_clean, self.compose_clean):
            try:
                f()
            except Exception as err:  # noqa: BLE001 - best effort, then purge by name
                log(f"cleanup: {err}")
        for prefix in (PSD_PROJECT, FLOOR_PROJECT, COMPOSE_PROJECT):
            self.engine.purge(prefix)

    def run(self, key: str) -> str:
        if key == "psd":
            return self.run_psd()
        if key == "floor":
            return self.run_floor()
        return self.run_compose(key)

    def warm_up(self) -> None:
        log(f"warm-up: pinshare-dev up -d + down --volumes (host builds, image builds), spec {self.psd_spec}")
        ms, lines = self.psd("up", "--detach")
        built = [l for _, l in lines if " built " in l or "host build done" in l]
        log(f"  {ms:.0f} ms; " + ("; ".join(built) if built else "nothing built"))
        self.psd_clean()
        for img in {s["image"] for s in self.spec["services"].values()}:
            self.engine.call("GET", f"/images/{img}/json")
        # One unrecorded run of every contender, so each starts with warm caches.
        for key in CONTENDERS:
            log(f"warm-up {key}: {self.run(key)}")
        for k in self.samples:
            self.samples[k].clear()
        for d in (self.first200, self.milestones):
            for k in d:
                d[k].clear()
        self.psd_logs.clear()


# --------------------------------------------------------------------------------------------- report


PSD_EVENTS = [
    ("network+volumes", re.compile(r"created volume")),
    ("host builds done", re.compile(r"host build done")),
    ("images checked", re.compile(r"image .* up to date|built ")),
    ("kubo repo ready", re.compile(r"^ipfs\s+» init steps done")),
    ("ipfs started", re.compile(r"^ipfs\s+» started")),
    ("ipfs ready", re.compile(r"^ipfs\s+» ready")),
    ("pinshare started", re.compile(r"^pinshare\s+» started")),
    ("pinshare ready", re.compile(r"^pinshare\s+» ready")),
]


COMPILED = re.compile(r"» host build:\s+Compiling")
STEP = re.compile(r"^(\S+)\s+» build: Step \d+/\d+ :")
CACHED = re.compile(r"^(\S+)\s+» build:\s+---> Using cache")


def really_rebuilt(lines: list[tuple[float, str]]) -> bool:
    """A cold `up` sends every build (no container remembers its context yet), which costs little when every
    step is a cache hit. Something was really rebuilt when the host build compiled, or a step after `FROM` missed
    the cache."""
    steps: dict[str, int] = {}
    cached: dict[str, int] = {}
    for _, line in lines:
        if COMPILED.search(line):
            return True
        if m := STEP.search(line):
            steps[m.group(1)] = steps.get(m.group(1), 0) + 1
        if m := CACHED.search(line):
            cached[m.group(1)] = cached.get(m.group(1), 0) + 1
    return any(cached.get(svc, 0) < n - 1 for svc, n in steps.items())


def psd_milestones(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """When (ms since the command started) each event line arrived; the last match for multi-service events."""
    m: dict[str, float] = {}
    for t, line in lines:
        for key, rx in PSD_EVENTS:
            if rx.search(line):
                m[key] = t
    m["exit"] = total
    return m


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def paired(b, a: str, ref: str) -> float:
    return statistics.median(x / y for x, y in zip(b.samples[a], b.samples[ref]))


def fmt(x, digits=0):
    return "–" if x is None else f"{x:.{digits}f}"


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip()
    except OSError:
        return "?"


def facts(engine: Engine, binary: Path) -> dict:
    _, v = engine.call("GET", "/version")
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "docker_server": f"{v.get('Version')} (API {v.get('ApiVersion')})",
        "docker_compose": sh(["docker-compose", "version", "--short"]),
        "git_commit": sh(["git", "rev-parse", "--short=12", "HEAD"]) + (" (dirty)" if dirty else ""),
        "binary_built": datetime.datetime.fromtimestamp(binary.stat().st_mtime).astimezone().isoformat(timespec="seconds"),
        "kernel": os.uname().release,
    }


def report(b: Bench, f: dict, rounds: int) -> str:
    floor, c1 = med(b.samples["floor"]), med(b.samples["compose-1s"])
    out = [f"## Cold up to all-ready, {rounds} rounds (contenders interleaved, rotating order)", ""]
    out.append("| contender | median ms | min | max | ratio to floor | ratio to compose(1s) | app /health first 200 from host (median ms) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for key in CONTENDERS:
        xs = b.samples[key]
        m = med(xs)
        out.append(
            f"| {LABELS[key]} | {fmt(m)} | {fmt(min(xs))} | {fmt(max(xs))} | {fmt(m / floor, 2)} | {fmt(m / c1, 2)} "
            f"| {fmt(med(b.first200[key]))} |"
        )
    noop = b.samples["noop"]
    out += ["", f"no-op `pinshare-dev up --detach` (project up, nothing changed): median {fmt(med(noop))} ms "
            f"(min {fmt(min(noop))}, max {fmt(max(noop))})", ""]
    psd, c100 = med(b.samples["psd"]), med(b.samples["compose-100ms"])
    ok = lambda c: "MET" if c else "NOT MET"  # noqa: E731
    out += [
        "Targets:",
        f"- pinshare-dev ≤ 1.2 × floor: {psd / floor:.2f} × → {ok(psd <= 1.2 * floor)}",
        f"- pinshare-dev ≤ 0.5 × compose: {psd / c1:.2f} × compose(1s) → {ok(psd <= 0.5 * c1)}; "
        f"{psd / c100:.2f} × compose(100ms) → {ok(psd <= 0.5 * c100)}",
        f"- no-op ≤ 300 ms: {med(noop):.0f} ms → {ok(med(noop) <= 300)}",
        "",
        "Paired (median of per-round ratios; the contenders of a round ran back to back, so this cancels slow "
        f"drift): pinshare-dev / floor {paired(b, 'psd', 'floor'):.2f}, / compose(1s) "
        f"{paired(b, 'psd', 'compose-1s'):.2f}, / compose(100ms) {paired(b, 'psd', 'compose-100ms'):.2f}",
        "",
        "Where the time goes (median ms since start at which each step finished):",
        "",
        "| step | pinshare-dev | floor |",
        "|---|---:|---:|",
    ]
    for key in ["network+volumes", "host builds done", "images checked", "kubo repo ready", "ipfs started",
                "ipfs ready", "pinshare started", "pinshare ready", "exit"]:
        pv = med([m.get(key) for m in b.milestones["psd"]])
        fv = med([m.get(key) for m in b.milestones["floor"]])
        out.append(f"| {key} | {fmt(pv)} | {fmt(fv)} |")
    for key in ("compose-1s", "compose-100ms"):
        ms = b.milestones[key]
        out.append("")
        out.append(f"{LABELS[key]}: `up -d` returned at {fmt(med([m.get('up -d returned') for m in ms]))} ms, "
                   f"app /health first 200 at {fmt(med([m.get('first /health 200') for m in ms]))} ms, "
                   f"`healthy` seen at {fmt(med([m.get('pinshare healthy') for m in ms]))} ms")
    rebuilt = [i + 1 for i, lines in enumerate(b.psd_logs) if really_rebuilt(lines)]
    if rebuilt:
        out += ["", f"WARNING: pinshare-dev rebuilt something in round(s) {rebuilt} (a source or VERSION changed "
                "during the run); those samples include build time."]
    f["loadavg_end"] = os.getloadavg()
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in f.items())]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", metavar="PATH", help="save raw samples, milestones and pinshare-dev event logs")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    ap.add_argument("--compose-file", default=str(REPO / "bench" / "compose.offline.yml"))
    args = ap.parse_args()
    if not Path(args.bin).is_file():
        ap.error(f"{args.bin} missing: run `cargo build --release` first")

    b = Bench(args)
    f = facts(b.engine, b.bin)
    try:
        b.clean_all()
        b.warm_up()
        for r in range(args.rounds):
            order = CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[: r % len(CONTENDERS)]
            for key in order:
                log(f"round {r + 1}/{args.rounds} {key}: {b.run(key)}")
    finally:
        b.clean_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
    text = report(b, f, args.rounds)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "facts": f,
            "rounds": args.rounds,
            "samples_ms": b.samples,
            "first_health_200_ms": b.first200,
            "milestones_ms": b.milestones,
            "psd_event_logs": b.psd_logs,
            "psd_spec": b.psd_spec_text,
        }, indent=1))
        log(f"raw samples saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
