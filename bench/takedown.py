#!/usr/bin/env python3
"""License takedown sweep on PostgreSQL: N licenses ended a minute ago over
M assets, then one `vitrine licenses sweep` (what the scheduled job runs).

    python3 bench/takedown.py target/release/vitrine [licenses] [assets] [database-url]

Defaults: 10,000 licenses, 100,000 assets, postgres://postgres@127.0.0.1:5432.
A fresh database `vitrine_bench_takedown` is created (and dropped first).

The data: assets spread over 100 folders; each ended license is attached to
assets/licenses assets; a fifth of the assets also hold a license that runs
on (they must stay up); 2,000 share links list 5 assets each, 100 folder
links share one folder each. The sweep must take down the other assets,
revoke the links left with nothing deliverable, record LICENSE_EXPIRED and
ASSET_TAKEN_DOWN for each, in batches of 1,000 licenses per transaction.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

binary = os.path.abspath(sys.argv[1])
licenses = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
assets = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
base = sys.argv[4] if len(sys.argv) > 4 else "postgres://postgres@127.0.0.1:5432"
db = "vitrine_bench_takedown"
url = f"{base}/{db}"
per_license = assets // licenses


def psql(database, sql):
    subprocess.run(["psql", f"{base}/{database}", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def scalar(sql):
    out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


psql("postgres", f"DROP DATABASE IF EXISTS {db}")
psql("postgres", f"CREATE DATABASE {db}")
work = tempfile.mkdtemp(prefix="vitrine-takedown-")
env = dict(os.environ, VITRINE_DATABASE_URL=url, VITRINE_DATA_DIR=os.path.join(work, "data"),
           VITRINE_LOG=os.environ.get("VITRINE_LOG", "warn"))
subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

seed = f"""
INSERT INTO users (id, email, display_name, password_hash, kind, role, disabled, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-0000000000aa', 'bench@example.com', 'Bench', 'x', 'MEMBER', 'ADMIN', false, now(), now());
INSERT INTO folders (id, name, ancestry, created_at, updated_at, restricted)
SELECT f.id, 'F' || f.n, '/' || f.id || '/', now(), now(), false
FROM (SELECT n, md5('folder' || n)::uuid AS id FROM generate_series(0, 99) n) f;
INSERT INTO assets (id, folder_id, title, created_at, updated_at, access_mode)
SELECT md5('asset' || n)::uuid, md5('folder' || (n % 100))::uuid, 'Asset ' || n, now(), now(), 'PUBLIC'
FROM generate_series(0, {assets - 1}) n;
INSERT INTO licenses (id, name, licensor, channels, territories, starts_at, ends_at, created_at, updated_at)
SELECT md5('license' || n)::uuid, 'License ' || n, 'Studio', 'ECOMMERCE,SOCIAL', 'WORLD',
       now() - interval '400 days', now() - interval '1 minute' - (n % 3600) * interval '1 second', now(), now()
FROM generate_series(0, {licenses - 1}) n;
INSERT INTO asset_licenses (license_id, asset_id, attached_at)
SELECT md5('license' || (n / {per_license}))::uuid, md5('asset' || n)::uuid, now()
FROM generate_series(0, {licenses * per_license - 1}) n;
INSERT INTO licenses (id, name, licensor, channels, territories, starts_at, ends_at, created_at, updated_at)
VALUES (md5('running')::uuid, 'Running', 'Studio', 'ECOMMERCE', 'WORLD', now() - interval '10 days', now() + interval '300 days', now(), now());
INSERT INTO asset_licenses (license_id, asset_id, attached_at)
SELECT md5('running')::uuid, md5('asset' || n)::uuid, now() FROM generate_series(0, {assets - 1}, 5) n;
INSERT INTO share_links (id, token_hash, created_by, scope, expires_at, created_at, updated_at)
SELECT md5('link' || n)::uuid, md5('link' || n) || md5('token' || n), '00000000-0000-0000-0000-0000000000aa',
       'PREVIEW', now() + interval '30 days', now(), now()
FROM generate_series(0, 1999) n;
INSERT INTO share_link_assets (link_id, asset_id)
SELECT md5('link' || (n / 5))::uuid, md5('asset' || (n * 7 % {assets}))::uuid FROM generate_series(0, 9999) n
ON CONFLICT DO NOTHING;
INSERT INTO share_links (id, token_hash, created_by, folder_id, scope, expires_at, created_at, updated_at)
SELECT md5('flink' || n)::uuid, md5('flink' || n) || md5('ftoken' || n), '00000000-0000-0000-0000-0000000000aa',
       md5('folder' || n)::uuid, 'PREVIEW', now() + interval '30 days', now(), now()
FROM generate_series(0, 99) n;
"""
started = time.time()
psql(db, seed)
# The sweep runs on a database in steady state, not straight after a bulk
# load: vacuumed (hint bits set) and checkpointed, so it pays neither for the
# seed's first reads nor for the checkpoint the seed's WAL would trigger.
psql(db, "VACUUM ANALYZE")
psql(db, "CHECKPOINT")
print(f"seeded {assets:,} assets, {licenses:,} ended licenses ({per_license} assets each), "
      f"2,100 share links in {time.time() - started:.1f} s")

if os.environ.get("SEED_ONLY"):
    sys.exit(0)
wall = time.time()
out = subprocess.run([binary, "licenses", "sweep"], env=env, check=True, stdout=subprocess.PIPE, text=True)
wall = time.time() - wall
report = json.loads(out.stdout)
print(json.dumps(report, indent=2))
print(f"sweep: {report['elapsedMs'] / 1000:.2f} s (process wall time with start-up: {wall:.2f} s)")

down = int(scalar("SELECT count(*) FROM asset_takedowns"))
expected_down = assets - len(range(0, assets, 5))
revoked = int(scalar("SELECT count(*) FROM share_links WHERE revoked_at IS NOT NULL"))
events = scalar("SELECT action, count(*) FROM audit_events GROUP BY action ORDER BY action")
print(f"assets taken down: {down:,} (expected {expected_down:,}); links revoked: {revoked:,}")
print(events)
assert down == expected_down, "wrong number of assets taken down"
again = json.loads(subprocess.run([binary, "licenses", "sweep"], env=env, check=True,
                                  capture_output=True, text=True).stdout)
assert again["licensesExpired"] == 0 and again["assetsTakenDown"] == 0, again
print(f"second sweep: nothing to do in {again['elapsedMs']:.0f} ms")
if not os.environ.get("KEEP_DB"):
    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
