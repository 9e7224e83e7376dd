#!/usr/bin/env python3
"""Public delivery (`/p/`): first-request latency of lazy derivatives, and
cached requests/s of one public URL against nginx serving the same bytes
from disk (wrk over loopback, same run).

1. Lazy first requests: every photograph of the corpus (or the committed
   fixtures) is uploaded, published, licensed for E_COMMERCE and opted in;
   then the first request of each for a non-eager public profile
   (800x800 COVER WebP) is timed, one after another (nothing made before:
   this is decode + resize + crop + encode + stamp + store + record).
2. Cached: the same URL asked again and again. Each request that reaches
   Vitrine decides the policy at the current access epoch (one query when
   nothing changed since) and is counted in memory for the usage
   statistics; nginx only sends a file.

    apt-get install wrk nginx
    cargo build --release --bin vitrine
    python3 bench/public.py target/release/vitrine [corpus-dir] [seconds] [connections] [rounds]
"""
import datetime
import os
import shutil
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, percentile  # noqa: E402
from delivery import start_nginx, wrk  # noqa: E402

PHOTO = (".jpg", ".jpeg", ".png")


def photos(corpus):
    if corpus and os.path.isdir(corpus):
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                       if f.lower().endswith(PHOTO))
        if files:
            return files
    fixtures = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    return sorted(os.path.join(fixtures, f) for f in os.listdir(fixtures) if f.lower().endswith(".jpg"))


def main():
    binary = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) > 2 else None
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    connections = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    files = photos(corpus)
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work, {"VITRINE_DERIVATIVE_WAIT": "60s"})
        ngx = None
        try:
            made = server.gql(
                "mutation { createDerivativeProfile(input: { name: \"pdp-square\", width: 800, height: 800, "
                "fit: COVER, anchor: CENTER, format: WEBP, quality: 80, public: true }) { id } }")
            assert not made.get("errors"), made
            now = datetime.datetime.now(datetime.timezone.utc)
            lic = server.gql(
                "mutation($i: CreateLicenseInput!) { createLicense(input: $i) { id } }",
                {"i": {"name": "Web", "licensor": "Studio", "channels": ["ECOMMERCE"], "territories": ["WORLD"],
                       "startsAt": (now - datetime.timedelta(days=1)).isoformat(),
                       "endsAt": (now + datetime.timedelta(days=365)).isoformat()}})
            assert not lic.get("errors"), lic
            license_id = lic["data"]["createLicense"]["id"]
            assets = []
            for path in files:
                answer, _ = server.upload(path, "mutation($file: Upload!) { uploadAsset(file: $file) { id } }")
                if answer.get("errors"):
                    print(f"skipped {os.path.basename(path)}: {answer['errors'][0]['message']}")
                    continue
                assets.append((answer["data"]["uploadAsset"]["id"], path))
            ids = [a for a, _ in assets]
            for query, variables in (
                ("mutation($a: [ID!]!) { setAccess(input: { assetIds: $a, mode: PUBLIC }) { id } }", {"a": ids}),
                ("mutation($l: ID!, $a: [ID!]!) { attachLicense(licenseId: $l, assetIds: $a) }",
                 {"l": license_id, "a": ids}),
            ):
                r = server.gql(query, variables)
                assert not r.get("errors"), r
            for a in ids:
                r = server.gql("mutation($a: ID!) { setPublicDelivery(assetId: $a, enabled: true) { slug } }", {"a": a})
                assert not r.get("errors"), r
            # Wait for processing (renditions), so that it does not compete.
            for a in ids:
                for _ in range(1200):
                    state = server.gql("query($id: ID!) { asset(id: $id) { currentVersion { processing { state } } } }",
                                       {"id": a})
                    if state["data"]["asset"]["currentVersion"]["processing"]["state"] in ("READY", "FAILED"):
                        break
                    time.sleep(0.1)
            base = f"http://127.0.0.1:{server.port}/p/pdp-square"
            firsts = []
            for a, path in assets:
                started = time.perf_counter()
                with urllib.request.urlopen(f"{base}/{a}.webp") as resp:
                    body = resp.read()
                firsts.append(time.perf_counter() - started)
                print(f"  first request {firsts[-1] * 1000:7.0f} ms  {len(body):7d} bytes  {os.path.basename(path)}")
            firsts.sort()
            print(f"lazy first request, {len(firsts)} photographs: p50 {percentile(firsts, 50) * 1000:.0f} ms, "
                  f"p99 {percentile(firsts, 99) * 1000:.0f} ms, max {firsts[-1] * 1000:.0f} ms")

            url = f"{base}/{assets[0][0]}.webp"
            with urllib.request.urlopen(url) as resp:
                cached = resp.read()
            ngx, nginx_url = start_nginx(nginx, work, cached, "derivative.webp", "image/webp webp",
                                         "public, max-age=300, s-maxage=31536000")
            print(f"cached public URL: {len(cached)} bytes; wrk -t1 -c{connections} -d{seconds}s, {rounds} rounds each")
            wrk(url, 2, connections)
            wrk(nginx_url, 2, connections)
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(wrk(url, seconds, connections))
                theirs.append(wrk(nginx_url, seconds, connections))
            for name, runs in (("vitrine /p/", ours), ("nginx file", theirs)):
                for rps, p50, p99 in runs:
                    print(f"{name:12} {rps:10.0f} req/s  p50 {p50:>8}  p99 {p99:>8}")
            median_ours = sorted(r[0] for r in ours)[len(ours) // 2]
            median_theirs = sorted(r[0] for r in theirs)[len(theirs) // 2]
            print(f"median: vitrine {median_ours:.0f} req/s, nginx {median_theirs:.0f} req/s, "
                  f"ratio {median_ours / median_theirs:.2f}x")
            # The counts reach the statistics within the flush interval.
            time.sleep(6)
            usage = server.gql(
                "query($a: ID!) { asset(id: $a) { usage { views byAccessorType { accessorType views } } } }",
                {"a": assets[0][0]})
            print(f"views of that asset by accessor type: {usage.get('data') or usage.get('errors')}")
        finally:
            if ngx:
                ngx.terminate()
                ngx.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    main()
