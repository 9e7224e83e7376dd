#!/usr/bin/env python3
"""Sign-in timing: does an unknown email answer in the same time as a wrong
password (no user-enumeration oracle), and what does a sign-in cost?

Starts `vitrine serve` from the given binary in a temporary data directory
(throttling limits raised so the measurement is not throttled), creates a user
with `vitrine admin create-user`, then times N sign-ins of each kind,
interleaved, and prints median and p90 per kind.

    cargo build --release --bin vitrine
    python3 bench/login_timing.py target/release/vitrine 200
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def login(url, email, password):
    body = json.dumps({
        "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
        "variables": {"e": email, "p": password},
    }).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as resp:
        answer = json.load(resp)
    elapsed = time.perf_counter() - t0
    code = (answer.get("errors") or [{}])[0].get("extensions", {}).get("code", "OK")
    return elapsed, code


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/vitrine")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        env = dict(os.environ)
        env.update({
            "VITRINE_DATA_DIR": os.path.join(work, "data"),
            "VITRINE_BIND": f"127.0.0.1:{port}",
            "VITRINE_LOGIN_MAX_FAILURES_PER_EMAIL": "1000",
            "VITRINE_LOGIN_MAX_FAILURES_PER_IP": "100000",
            "VITRINE_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
            "VITRINE_LOG": "warn",
        })
        server = subprocess.Popen([binary, "serve"], env=env, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            subprocess.run([binary, "admin", "create-user", "--email", "bench@example.com", "--role", "VIEWER"],
                           input=b"correct horse battery staple\n", env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            kinds = {
                "unknown email": ("nobody@example.com", "correct horse battery staple", "UNAUTHENTICATED"),
                "wrong password": ("bench@example.com", "not the right passphrase", "UNAUTHENTICATED"),
                "right password": ("bench@example.com", "correct horse battery staple", "OK"),
            }
            samples = {k: [] for k in kinds}
            for _ in range(3):  # warm-up
                for email, pw, _ in kinds.values():
                    login(url, email, pw)
            for _ in range(n):
                for kind, (email, pw, expected) in kinds.items():
                    elapsed, code = login(url, email, pw)
                    assert code == expected, (kind, code)
                    samples[kind].append(elapsed * 1000)
            print(f"sign-in latency over {n} requests each (ms), {binary}")
            for kind, xs in samples.items():
                xs.sort()
                print(f"  {kind:15s} median {statistics.median(xs):7.2f}  p90 {xs[int(len(xs) * 0.9)]:7.2f}")
            a = statistics.median(samples["unknown email"])
            b = statistics.median(samples["wrong password"])
            print(f"  unknown/wrong median ratio {a / b:.3f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
