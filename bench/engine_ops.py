#!/usr/bin/env python3
"""What one container swap costs on this engine, call by call (Engine API over the unix socket, /v1.41).

Creates a network `bench-ops-net` and containers `bench-ops-a` / `bench-ops-b` from the offline app image
(`pinshare-offline/app:dev`, built by `pinshare-dev -f examples/offline/pinshare.toml up`), times create, start,
stop, remove, rename and start again over a few rounds, prints the medians, and removes everything it made.

    python3 bench/engine_ops.py [--rounds 5] [--image pinshare-offline/app:dev]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).parent))
from cold_up import Engine, free_port  # noqa: E402

NET, A, B = "bench-ops-net", "bench-ops-a", "bench-ops-b"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--image", default="pinshare-offline/app:dev")
    args = ap.parse_args()
    e = Engine()
    port = free_port()
    body = {
        "Image": args.image,
        "Env": ["IPFS_API=http://ipfs:5001"],
        "ExposedPorts": {"9090/tcp": {}},
        "HostConfig": {
            "PortBindings": {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
            "Init": True,
            "NetworkMode": NET,
        },
        "NetworkingConfig": {"EndpointsConfig": {NET: {"Aliases": ["pinshare"]}}},
    }
    times: dict[str, list[float]] = {}

    def timed(label: str, method: str, path: str, payload=None, query=None) -> None:
        t = time.perf_counter()
        e.call(method, path, payload, query=query, ok=(200, 201, 204, 304))
        times.setdefault(label, []).append(1000 * (time.perf_counter() - t))

    def clean() -> None:
        for c in (A, B):
            e.call("DELETE", f"/containers/{c}", query={"force": "1", "v": "1"}, ok=(204, 404))
        e.call("DELETE", f"/networks/{NET}", ok=(204, 404))

    clean()
    try:
        e.call("POST", "/networks/create", {"Name": NET}, ok=(201,))
        for _ in range(args.rounds):
            timed("create", "POST", "/containers/create", body, query={"name": A})
            timed("start", "POST", f"/containers/{A}/start")
            # The swap as pinshare-dev does it could be: the new one created while the old one serves, then
            # stop, remove, rename, start.
            timed("create (while the old serves)", "POST", "/containers/create", body, query={"name": B})
            timed("stop (SIGTERM-handling app)", "POST", f"/containers/{A}/stop", query={"t": "5"})
            timed("remove", "DELETE", f"/containers/{A}", query={"force": "1", "v": "1"})
            timed("rename", "POST", f"/containers/{B}/rename", query={"name": A})
            timed("start (renamed)", "POST", f"/containers/{A}/start")
            timed("remove running (force)", "DELETE", f"/containers/{A}", query={"force": "1", "v": "1"})
    finally:
        clean()
    print(f"| call | median ms ({args.rounds} rounds) |\n|---|---:|")
    for label, xs in times.items():
        print(f"| {label} | {statistics.median(xs):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
