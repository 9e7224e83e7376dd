#!/usr/bin/env python3
"""Upload ingest throughput: every photograph of the corpus through
`uploadAsset` (multipart over loopback HTTP: receive + SHA-256, sniff, header
check, full decode, durable store, commit), then check that each is listed
with its true dimensions.

    cargo build --release --bin vitrine
    python3 bench/ingest.py target/release/vitrine ../shared/corpus [postgres://...]

With a PostgreSQL URL the server uses a fresh database on it; otherwise the
embedded SQLite default.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, percentile  # noqa: E402

UPLOAD = ("mutation($file: Upload!) { uploadAsset(file: $file) "
          "{ id currentVersion { width height bytes mediaType } } }")


def manifest(corpus):
    sizes = {}
    path = os.path.join(corpus, "MANIFEST.txt")
    with open(path) as f:
        for line in f:
            if line.startswith("#") or "|" not in line:
                continue
            cols = [c.strip() for c in line.split("|")]
            w, h = cols[1].split("x")
            sizes[cols[0]] = (int(w), int(h))
    return sizes


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/vitrine"
    corpus = sys.argv[2] if len(sys.argv) > 2 else "../shared/corpus"
    pg = sys.argv[3] if len(sys.argv) > 3 else None
    expected = manifest(corpus)
    files = sorted(os.path.join(corpus, name) for name in expected)
    extra = {}
    db_name = None
    if pg:
        db_name = f"vitrine_bench_{int(time.time())}"
        subprocess.run(["psql", pg, "-qc", f"create database {db_name}"], check=True)
        extra["VITRINE_DATABASE_URL"] = pg.rsplit("/", 1)[0] + "/" + db_name
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work, extra)
        try:
            latencies = []
            total = 0
            started = time.perf_counter()
            for path in files:
                t0 = time.perf_counter()
                answer, size = server.upload(path, UPLOAD)
                latencies.append(time.perf_counter() - t0)
                total += size
                if answer.get("errors"):
                    raise SystemExit(f"{path}: {answer['errors']}")
                v = answer["data"]["uploadAsset"]["currentVersion"]
                name = os.path.basename(path)
                if (v["width"], v["height"]) != expected[name]:
                    raise SystemExit(f"{name}: {v['width']}x{v['height']} != {expected[name]}")
            elapsed = time.perf_counter() - started
            listed = server.gql("{ assets(first: 100) { totalCount } }")["data"]["assets"]["totalCount"]
            latencies.sort()
            mb = total / 1e6
            print(f"ingest of {len(files)} corpus files, {mb:.1f} MB, backend {'postgres' if pg else 'sqlite'}, {binary}")
            print(f"  wall {elapsed:.2f} s  ->  {mb / elapsed:.1f} MB/s, {len(files) / elapsed:.1f} files/s")
            print(f"  per upload: median {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p90 {percentile(latencies, 90) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
            print(f"  listed: {listed} assets, every one with the manifest's dimensions")
        finally:
            server.stop()
            if db_name:
                subprocess.run(["psql", pg, "-qc", f"drop database if exists {db_name} with (force)"])


if __name__ == "__main__":
    main()
