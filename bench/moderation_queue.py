#!/usr/bin/env python3
"""Latency of `moderationQueue(first: 50)` with 100,000 versions, 10,000 of
them pending, on PostgreSQL; and what the near-duplicate lookup adds to
processing an upload against that library.

Starts `vitrine serve` on a fresh PostgreSQL database, uploads real
photographs through the API, files the assets and versions by SQL (with
perceptual hashes and their bands, a tenth pending with rule results), then
times the pages a moderation screen sends, over loopback. Last, uploads the
same photographs through an AUTOMATIC preset (rules and library lookup) and
without one (no rules), and compares the worker's processing times.

    cargo build --release --bin vitrine
    python3 bench/moderation_queue.py target/release/vitrine postgres://postgres@127.0.0.1:5432/test 100000 300
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, percentile  # noqa: E402

PAGE = """query($after: String, $f: ModerationQueueFilter) { moderationQueue(first: 50, after: $after, filter: $f) {
  pageInfo { hasNextPage endCursor }
  edges { node { id number width height mediaType createdAt uploadedBy { displayName }
      moderation { state mode failedRules ruleResults { rule verdict measured message } } }
    asset { title tags folder { name path } } } } }"""


def timed(server, variables, n):
    out = []
    answer = None
    for _ in range(n):
        t0 = time.perf_counter()
        answer = server.gql(PAGE, variables)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.get("errors"):
            raise SystemExit(answer["errors"])
    out.sort()
    return out, answer


def processing_ms(server, asset_id):
    """The worker's own time for the asset's first version (from its audit)."""
    for _ in range(600):
        answer = server.gql(
            """query($id: String) { auditEvents(filter: { targetId: $id, action: VERSION_PROCESSED }) {
                 edges { node { details } } } }""", {"id": asset_id})
        edges = answer["data"]["auditEvents"]["edges"]
        if edges:
            details = edges[0]["node"]["details"]
            if isinstance(details, str):
                details = json.loads(details)
            return details["ms"]
        time.sleep(0.1)
    raise SystemExit(f"{asset_id} was not processed")


def main():
    binary = sys.argv[1]
    pg = sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    pending = count // 10
    db_name = f"vitrine_bench_{int(time.time())}"
    subprocess.run(["psql", pg, "-qc", f"create database {db_name}"], check=True)
    db_url = pg.rsplit("/", 1)[0] + "/" + db_name
    fixtures = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    photos = ["garden.jpg", "yellow-flower.jpg", "chelsea.png", "coffee.png"]
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work, {"VITRINE_DATABASE_URL": db_url})
        try:
            answer, _ = server.upload(os.path.join(fixtures, "garden.jpg"),
                                      "mutation($file: Upload!) { uploadAsset(file: $file) { id } }")
            assert not answer.get("errors"), answer
            parents = []
            for top in range(10):
                answer = server.gql("mutation($n: String!) { createFolder(input: { name: $n }) { id } }",
                                    {"n": f"Collection {top}"})
                parents.append(answer["data"]["createFolder"]["id"])
            children = []
            for p in parents:
                for c in range(5):
                    answer = server.gql("mutation($p: ID, $n: String!) { createFolder(input: { parentId: $p, name: $n }) { id } }",
                                        {"p": p, "n": f"Shoot {c}"})
                    children.append(answer["data"]["createFolder"]["id"])
            folders = "ARRAY[" + ",".join(f"'{c}'::uuid" for c in children) + "]"
            results = json.dumps([
                {"rule": "SHARPNESS", "verdict": "FAILED", "measured": "3.1", "limit": "5",
                 "message": "sharpness 3.1 < 5"},
                {"rule": "MIN_SIZE", "verdict": "PASSED", "measured": "2560x1600", "limit": "200x200",
                 "message": "size 2560x1600"},
            ]).replace("'", "''")
            # Pending versions are the newest tenth; a fifth of those failed
            # SHARPNESS (for the ruleFailed filter).
            sql = f"""
            BEGIN;
            CREATE TEMP TABLE gen AS
              SELECT gen_random_uuid() AS aid, i,
                     now() - (({count} - i) || ' seconds')::interval AS at,
                     lpad(to_hex((random() * 9223372036854775807)::bigint), 16, '0') AS h,
                     i > {count - pending} AS waiting
              FROM generate_series(1, {count}) AS i;
            ALTER TABLE gen ADD COLUMN vid uuid;
            UPDATE gen SET vid = (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0')
                  || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid;
            INSERT INTO assets (id, folder_id, title, current_version_id, created_by, created_at, updated_at,
                                awaiting_moderation)
              SELECT aid, ({folders})[1 + i % {len(children)}], 'Bench asset ' || i, vid,
                     '{server.admin_id}'::uuid, at, at, waiting FROM gen;
            WITH b AS (SELECT sha256, bytes, media_type, width, height FROM blobs ORDER BY sha256 LIMIT 1)
            INSERT INTO asset_versions (id, asset_id, number, stage, blob_sha256, bytes, media_type, width, height,
                                        filename, uploaded_by, created_at, processing_state, perceptual_hash,
                                        phash_b0, phash_b1, phash_b2, phash_b3,
                                        moderation_state, moderation_mode, rule_results, failed_rules)
              SELECT vid, aid, 1, 'RAW', b.sha256, b.bytes, b.media_type, b.width, b.height, 'bench.jpg',
                     '{server.admin_id}'::uuid, at, 'READY', h,
                     ('x' || substr(h, 1, 4))::bit(16)::int, ('x' || substr(h, 5, 4))::bit(16)::int,
                     ('x' || substr(h, 9, 4))::bit(16)::int, ('x' || substr(h, 13, 4))::bit(16)::int,
                     CASE WHEN waiting THEN 'PENDING' ELSE 'NOT_REQUIRED' END,
                     CASE WHEN waiting THEN (CASE WHEN i % 2 = 0 THEN 'MANUAL' ELSE 'AUTOMATIC_THEN_MANUAL' END) END,
                     CASE WHEN waiting THEN '{results}' END,
                     CASE WHEN waiting AND i % 5 = 0 THEN ',SHARPNESS,' END
              FROM gen, b;
            INSERT INTO asset_tags (asset_id, tag) SELECT aid, 'tag' || (i % 50) FROM gen;
            COMMIT;
            ANALYZE;
            """
            t0 = time.perf_counter()
            subprocess.run(["psql", db_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
            print(f"seeded {count} versions ({pending} pending) in {time.perf_counter() - t0:.1f} s")

            first, answer = timed(server, {}, n)
            assert len(answer["data"]["moderationQueue"]["edges"]) == 50
            cursor = answer["data"]["moderationQueue"]["pageInfo"]["endCursor"]
            for _ in range(100):
                cursor = server.gql(PAGE, {"after": cursor})["data"]["moderationQueue"]["pageInfo"]["endCursor"]
            deep, _ = timed(server, {"after": cursor}, n)
            rule, _ = timed(server, {"f": {"ruleFailed": "SHARPNESS"}}, n)
            folder, _ = timed(server, {"f": {"folderId": parents[3]}}, n)
            newest, _ = timed(server, {"f": {"newestFirst": True}}, n)
            print(f"moderationQueue(first: 50) on PostgreSQL, {count} versions, {pending} pending, "
                  f"{n} requests each, {binary}")
            for label, xs in [("first page (oldest first)", first), ("page 101 (cursor)", deep),
                              ("ruleFailed: SHARPNESS", rule), ("folder + below (1/10)", folder),
                              ("newest first", newest)]:
                print(f"  {label:28s} p50 {percentile(xs, 50):7.2f} ms  p99 {percentile(xs, 99):7.2f} ms")

            # Processing with the rules (library lookup at this size) and without.
            answer = server.gql("""mutation { createUploadPreset(input: { name: "Auto", moderation: AUTOMATIC }) { id } }""")
            preset = answer["data"]["createUploadPreset"]["id"]
            upload = "mutation($file: Upload!, $p: ID) { uploadAsset(file: $file, input: { presetId: $p }) { id } }"
            with_rules, without = [], []
            for _ in range(3):
                for photo in photos:
                    path = os.path.join(fixtures, photo)
                    a, _ = server.upload(path, upload, {"p": preset})
                    with_rules.append(processing_ms(server, a["data"]["uploadAsset"]["id"]))
                    b, _ = server.upload(path, upload, {"p": None})
                    without.append(processing_ms(server, b["data"]["uploadAsset"]["id"]))
            with_rules.sort()
            without.sort()
            print(f"processing one upload, median of {len(without)} ({', '.join(photos)} x3), "
                  f"library of {count}:")
            print(f"  without rules {percentile(without, 50):6.0f} ms   with rules {percentile(with_rules, 50):6.0f} ms")
        finally:
            server.stop()
            if os.environ.get("KEEP_DB"):
                print(f"kept database {db_url}")
            else:
                subprocess.run(["psql", pg, "-qc", f"drop database if exists {db_name} with (force)"])


if __name__ == "__main__":
    main()
