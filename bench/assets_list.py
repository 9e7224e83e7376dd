#!/usr/bin/env python3
"""Latency of `assets(first: 50)` with 100,000 assets on PostgreSQL.

Starts `vitrine serve` on a fresh PostgreSQL database, uploads three real
photographs through the API, files 100,000 assets (with versions, tags and
folders) by SQL, then times the listing a client would send, over loopback.

    cargo build --release --bin vitrine
    python3 bench/assets_list.py target/release/vitrine postgres://postgres@127.0.0.1:5432/test 100000 300
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, percentile  # noqa: E402

PAGE = """query($after: String, $f: AssetFilter) { assets(first: 50, after: $after, filter: $f) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id title tags createdAt folder { name path }
    currentVersion { number stage width height mediaType uploadedBy { displayName } } createdBy { email } } } } }"""

# The same page without totalCount (which costs a count of every match).
PAGE_NO_COUNT = """query($after: String, $f: AssetFilter) { assets(first: 50, after: $after, filter: $f) {
  pageInfo { hasNextPage endCursor }
  edges { node { id title tags createdAt folder { name path }
    currentVersion { number stage width height mediaType uploadedBy { displayName } } createdBy { email } } } } }"""


def timed(server, variables, n, query=PAGE):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = server.gql(query, variables)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.get("errors"):
            raise SystemExit(answer["errors"])
    out.sort()
    return out, answer


def main():
    binary = sys.argv[1]
    pg = sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    db_name = f"vitrine_bench_{int(time.time())}"
    subprocess.run(["psql", pg, "-qc", f"create database {db_name}"], check=True)
    db_url = pg.rsplit("/", 1)[0] + "/" + db_name
    fixtures = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work, {"VITRINE_DATABASE_URL": db_url})
        try:
            for name in ["garden.jpg", "chelsea.png", "coffee.png"]:
                answer, _ = server.upload(os.path.join(fixtures, name),
                                          "mutation($file: Upload!) { uploadAsset(file: $file) { id } }")
                assert not answer.get("errors"), answer
            folder_sql = []
            for top in range(10):
                folder_sql.append(
                    f"mutation {{ createFolder(input: {{ name: \"Collection {top}\" }}) {{ id }} }}")
            parents = [server.gql(q)["data"]["createFolder"]["id"] for q in folder_sql]
            children = []
            for p in parents:
                for c in range(5):
                    answer = server.gql("mutation($p: ID, $n: String!) { createFolder(input: { parentId: $p, name: $n }) { id } }",
                                        {"p": p, "n": f"Shoot {c}"})
                    children.append(answer["data"]["createFolder"]["id"])
            folders = "ARRAY[" + ",".join(f"'{c}'::uuid" for c in children) + "]"
            sql = f"""
            BEGIN;
            CREATE TEMP TABLE gen AS
              SELECT gen_random_uuid() AS aid, gen_random_uuid() AS vid, i,
                     now() - (i || ' seconds')::interval AS at
              FROM generate_series(1, {count}) AS i;
            INSERT INTO assets (id, folder_id, title, current_version_id, created_by, created_at, updated_at)
              SELECT aid, ({folders})[1 + i % {len(children)}], 'Bench asset ' || i, vid,
                     '{server.admin_id}'::uuid, at, at FROM gen;
            WITH b AS (SELECT sha256, bytes, media_type, width, height FROM blobs ORDER BY sha256 LIMIT 1)
            INSERT INTO asset_versions (id, asset_id, number, stage, blob_sha256, bytes, media_type, width, height,
                                        filename, uploaded_by, created_at)
              SELECT vid, aid, 1, 'RAW', b.sha256, b.bytes, b.media_type, b.width, b.height, 'bench.jpg',
                     '{server.admin_id}'::uuid, at
              FROM gen, b;
            INSERT INTO asset_tags (asset_id, tag) SELECT aid, 'tag' || (i % 50) FROM gen;
            INSERT INTO asset_tags (asset_id, tag) SELECT aid, 'bench' FROM gen;
            COMMIT;
            ANALYZE;
            """
            t0 = time.perf_counter()
            subprocess.run(["psql", db_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
            print(f"seeded {count} assets in {time.perf_counter() - t0:.1f} s")

            no_count, _ = timed(server, {}, n, PAGE_NO_COUNT)
            plain, answer = timed(server, {}, n)
            total = answer["data"]["assets"]["totalCount"]
            cursor = answer["data"]["assets"]["pageInfo"]["endCursor"]
            deep_cursor = cursor
            for _ in range(100):
                deep_cursor = server.gql(PAGE, {"after": deep_cursor})["data"]["assets"]["pageInfo"]["endCursor"]
            deep, _ = timed(server, {"after": deep_cursor}, n)
            tagged, answer = timed(server, {"f": {"tags": ["tag7"]}}, n)
            tagged_total = answer["data"]["assets"]["totalCount"]
            print(f"assets(first: 50) on PostgreSQL with {total} assets, {n} requests each, {binary}")
            for label, xs in [("first page, no totalCount", no_count), ("first page", plain),
                              ("page 101 (cursor)", deep),
                              (f"tag filter ({tagged_total} match)", tagged)]:
                print(f"  {label:28s} p50 {percentile(xs, 50):7.2f} ms  p99 {percentile(xs, 99):7.2f} ms")
        finally:
            server.stop()
            if os.environ.get("KEEP_DB"):
                print(f"kept database {db_url}")
            else:
                subprocess.run(["psql", pg, "-qc", f"drop database if exists {db_name} with (force)"])


if __name__ == "__main__":
    main()
