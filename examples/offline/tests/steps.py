"""The offline demo's `[test]` steps (run by `pinshare-dev test` on this host, one step per argument).

The services' ports are the loopback ports `test` gives in PINSHARE_DEV_PORT_<SERVICE>_<PORT>. Every step
uploads the same bytes: PinShare's store answers the CID it already has, so each step stands on its own.
"""

import concurrent.futures
import json
import os
import sys
import time
import urllib.error
import urllib.request

CONTENT = b"pinshare-dev test: a file shared through PinShare and pinned by kubo\n"
UI_ORIGIN = "http://localhost:5173"
REFUSED_ORIGIN = "https://evil.example.com"


def url(service, port, path):
    return f"http://127.0.0.1:{os.environ[f'PINSHARE_DEV_PORT_{service}_{port}']}{path}"


def request(method, address, body=None, headers=None):
    req = urllib.request.Request(address, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def upload():
    status, _, body = request("POST", url("PINSHARE", 9090, "/files?name=test.txt"), CONTENT)
    if status != 200:
        sys.exit(f"POST /files answered {status}: {body!r}")
    cid = body.decode().strip()
    print(f"uploaded {len(CONTENT)} bytes through PinShare: {cid}")
    return cid


def pinned():
    cid = upload()
    # kubo core/commands/pin/pin.go `pin ls --arg CID`: {"Keys": {CID: {"Type": "recursive"}}}.
    status, _, body = request("POST", url("IPFS", 5001, f"/api/v0/pin/ls?arg={cid}"))
    keys = json.loads(body).get("Keys", {}) if status == 200 else {}
    if cid not in keys:
        sys.exit(f"kubo does not list {cid} as pinned: {status} {body!r}")
    print(f"kubo pins {cid}: {keys[cid]}")


def gateway():
    cid = upload()
    status, _, body = request("GET", url("IPFS", 8080, f"/ipfs/{cid}"))
    if status != 200 or body != CONTENT:
        sys.exit(f"GET /ipfs/{cid} on kubo's gateway answered {status} with {len(body)} bytes: {body[:200]!r}")
    print(f"kubo's gateway serves {cid}: {len(body)} bytes, byte for byte")


def cors():
    # The UI's preflight: kubo's API.HTTPHeaders in the spec allow http://localhost:5173 (a preflight is
    # answered 200 or 204 No Content; the kubo stand-in answers 204).
    status, headers, _ = request(
        "OPTIONS",
        url("IPFS", 5001, "/api/v0/id"),
        headers={"Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    allowed = headers.get("Access-Control-Allow-Origin")
    if status not in (200, 204) or allowed != UI_ORIGIN:
        sys.exit(f"preflight from {UI_ORIGIN}: {status}, Access-Control-Allow-Origin {allowed!r}")
    print(f"preflight from {UI_ORIGIN}: {status}, allowed")
    status, _, body = request("POST", url("IPFS", 5001, "/api/v0/id"), headers={"Origin": REFUSED_ORIGIN})
    if status != 403:
        sys.exit(f"POST from {REFUSED_ORIGIN} answered {status}, not 403: {body[:200]!r}")
    print(f"POST from {REFUSED_ORIGIN}: 403")


def load():
    # Many uploads at once, each a different file, so `pinshare-dev test --stats` measures the pair under load:
    # PinShare reads every body, writes it, hashes it and adds it to kubo, which stores and pins it.
    uploads, workers, size = 240, 16, 256 * 1024

    def one(i):
        body = (f"load {i} ".encode() * (size // 8 + 1))[:size]
        status, _, answer = request("POST", url("PINSHARE", 9090, f"/files?name=load-{i}.bin"), body)
        return status, answer.decode(errors="replace").strip()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(one, range(uploads)))
    failed = [(i, a) for i, a in enumerate(answers) if a[0] != 200]
    if failed:
        sys.exit(f"{len(failed)} of {uploads} uploads failed, e.g. #{failed[0][0]}: {failed[0][1]}")
    cids = {a[1] for a in answers}
    if len(cids) != uploads:
        sys.exit(f"{uploads} different files gave {len(cids)} different CIDs")
    took = time.monotonic() - started
    print(f"{uploads} uploads of {size // 1024} KiB, {workers} at once: {took:.1f} s, {len(cids)} different CIDs")


STEPS = {"upload": upload, "pinned": pinned, "gateway": gateway, "cors": cors, "load": load}

if __name__ == "__main__":
    for name in sys.argv[1:]:
        STEPS[name]()
