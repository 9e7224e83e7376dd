#!/usr/bin/env python3
"""Usage statistics on PostgreSQL: the rollup of a backlog of audit events,
steady-state rollup ticks, and the analysts' queries at 100,000 assets.

    python3 bench/usage.py target/release/vitrine [events] [assets] [database-url]

Defaults: 10,000,000 events, 100,000 assets, postgres://postgres@127.0.0.1:5432.
A fresh database `vitrine_bench_usage` is created (and dropped first; KEEP_DB=1
keeps it; SEED_ONLY=1 stops after seeding).

The events span the last 365 days (SPAN="10000 seconds": 10 M events at the
steady 1,000 events/s, a backlog left by a rollup down for 2.8 hours), in
sequence order: 70 % thumbnail/preview
views, 24 % low-resolution downloads, 5 % original downloads, 1 % share-link
opens (each counts for the 5 assets of its link); by members (60 %),
partners of 50 organisations (25 %) and visitors of 200 links (15 %); assets
drawn with a skew (a few popular ones, a long tail).

1. Backlog: `vitrine usage rollup` over all of them (target < 30 s).
2. Steady state: 10,000 new events (10 s at 1,000 events/s), one rollup,
   five times (target < 1 s each).
3. Queries through `vitrine serve` over HTTP, 200 each after 20 warm-ups
   (target p99 < 50 ms): one asset's usage over a year by month; the top
   100 assets of last month; the same top with 10,000 events not rolled up
   (the live tail a dashboard adds).
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402

binary = os.path.abspath(sys.argv[1])
events = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
assets = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
base = sys.argv[4] if len(sys.argv) > 4 else "postgres://postgres@127.0.0.1:5432"
db = "vitrine_bench_usage"
url = f"{base}/{db}"


def psql(database, sql):
    subprocess.run(["psql", f"{base}/{database}", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def scalar(sql):
    out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


# DIST=heavy (default): asset = assets * r^3, a heavy tail (the bottom half of
# the assets gets a fifth of the events: almost every event its own daily
# row). DIST=zipf: log-uniform, like Zipf's law with s = 1 (the top 1 % gets
# 60 %, the bottom half 6 %), closer to how image popularity runs.
DIST = os.environ.get("DIST", "heavy")
asset_pick = (f"floor(power({assets}, r))::int - 1" if DIST == "zipf"
              else f"floor({assets} * power(r, 3))::int")


def events_sql(first, count, start_sql, step_sql):
    """INSERT of `count` synthetic usage events from sequence number `first`,
    the i-th at start + i * step."""
    return f"""
INSERT INTO audit_events (seq, occurred_at, actor_kind, actor_id, partner_org_id, action, target_type,
                          target_id, share_link_id, ip, user_agent, details, prev_hash, hash)
SELECT s, {start_sql} + (s - {first}) * {step_sql},
       CASE WHEN k < 60 THEN 'MEMBER' WHEN k < 85 THEN 'PARTNER' ELSE 'VISITOR' END,
       CASE WHEN k < 85 THEN md5('user' || (s % 500))::uuid END,
       CASE WHEN k >= 60 AND k < 85 THEN md5('org' || (s % 50))::uuid END,
       CASE WHEN a < 70 THEN 'RENDITION_VIEWED' WHEN a < 94 THEN 'LOWRES_DOWNLOADED'
            WHEN a < 99 OR k < 85 THEN 'ORIGINAL_DOWNLOADED' ELSE 'SHARE_LINK_OPENED' END,
       CASE WHEN a >= 99 AND k >= 85 THEN 'share_link' ELSE 'asset' END,
       CASE WHEN a >= 99 AND k >= 85 THEN md5('link' || (s % 200))::uuid::text
            ELSE md5('asset' || {asset_pick})::uuid::text END,
       CASE WHEN k >= 85 THEN md5('link' || (s % 200))::uuid END,
       '198.51.100.' || (s % 250), 'bench', '{{}}', 'x', 'x'
FROM (SELECT s, (s * 7919) % 100 AS k, (s / 100 * 104729) % 100 AS a,
             ((s * 2654435761) % 1000003) / 1000003.0 AS r
      FROM generate_series({first}::bigint, {first + count - 1}::bigint) s) g;
UPDATE audit_chain_head SET last_seq = {first + count - 1} WHERE id = 1;
"""


def rollup():
    out = subprocess.run([binary, "usage", "rollup"], env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


reuse = os.environ.get("REUSE_DB")  # queries only, on a database kept with KEEP_DB=1
work = tempfile.mkdtemp(prefix="vitrine-usage-")
env = dict(os.environ, VITRINE_DATABASE_URL=url, VITRINE_DATA_DIR=os.path.join(work, "data"),
           VITRINE_LOG=os.environ.get("VITRINE_LOG", "warn"), VITRINE_USAGE_ROLLUP_SCHEDULE="off",
           VITRINE_ANOMALY_INTERVAL="off", VITRINE_LICENSE_UNLICENSED_DELIVERABLE="true")
if not reuse:
    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    psql("postgres", f"CREATE DATABASE {db}")
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    head = int(scalar("SELECT last_seq FROM audit_chain_head WHERE id = 1"))

    seed = f"""
    INSERT INTO users (id, email, display_name, password_hash, kind, role, disabled, created_at, updated_at)
    VALUES ('00000000-0000-0000-0000-0000000000aa', 'seed@example.com', 'Seed', 'x', 'MEMBER', 'ADMIN', false, now(), now());
    INSERT INTO partner_orgs (id, name, email_domains, allowlisted, created_at, updated_at)
    SELECT md5('org' || n)::uuid, 'Org ' || n, '', true, now(), now() FROM generate_series(0, 49) n;
    INSERT INTO folders (id, name, ancestry, created_at, updated_at, restricted)
    SELECT f.id, 'F' || f.n, '/' || f.id || '/', now(), now(), false
    FROM (SELECT n, md5('folder' || n)::uuid AS id FROM generate_series(0, 99) n) f;
    INSERT INTO assets (id, folder_id, title, created_at, updated_at, access_mode)
    SELECT md5('asset' || n)::uuid, md5('folder' || (n % 100))::uuid, 'Asset ' || n, now(), now(), 'PUBLIC'
    FROM generate_series(0, {assets - 1}) n;
    INSERT INTO share_links (id, token_hash, created_by, scope, expires_at, created_at, updated_at, partner_org_id)
    SELECT md5('link' || n)::uuid, md5('link' || n) || md5('token' || n), '00000000-0000-0000-0000-0000000000aa',
           'PREVIEW', now() + interval '30 days', now(), now(), CASE WHEN n % 4 = 0 THEN md5('org' || (n % 50))::uuid END
    FROM generate_series(0, 199) n;
    INSERT INTO share_link_assets (link_id, asset_id)
    SELECT md5('link' || (n / 5))::uuid, md5('asset' || (n * 37 % {assets}))::uuid FROM generate_series(0, 999) n
    ON CONFLICT DO NOTHING;
    """
    started = time.time()
    psql(db, seed)
    span = os.environ.get("SPAN", "365 days")
    psql(db, events_sql(head + 1, events, f"now() - interval '{span}'", f"(interval '{span}' / {events})"))
    # A year-old log has been vacuumed (hint bits set) long before it is read.
    psql(db, "VACUUM ANALYZE")
    print(f"distribution: {DIST}, span: {span}")
    print(f"seeded {assets:,} assets and {events:,} audit events in {time.time() - started:.1f} s")

    if os.environ.get("SEED_ONLY"):
        sys.exit(0)
    report = rollup()
    backlog = report["elapsedMs"] / 1000
    rows = int(scalar("SELECT count(*) FROM usage_daily"))
    total = int(scalar("SELECT sum(count) FROM usage_daily WHERE action IN ('VIEW', 'DOWNLOAD')"))
    deliveries = int(scalar(f"SELECT count(*) FROM audit_events WHERE action <> 'SHARE_LINK_OPENED' AND seq > {head}"))
    print(f"backlog rollup: {backlog:.2f} s for {events:,} events in {report['batches']} batches "
          f"-> {rows:,} daily rows ({events / backlog:,.0f} events/s)")
    assert total == deliveries, f"counted {total} deliveries, the log has {deliveries}"

    ticks = []
    for i in range(5):
        first = int(scalar("SELECT last_seq FROM audit_chain_head WHERE id = 1")) + 1
        psql(db, events_sql(first, 10_000, "now() - interval '10 seconds'", "interval '1 millisecond'"))
        ticks.append(rollup()["elapsedMs"])
    print("steady-state ticks (10,000 events = 10 s at 1,000/s): "
          + ", ".join(f"{t:.0f} ms" for t in ticks) + f" (max {max(ticks):.0f} ms)")
    psql(db, "ANALYZE")

if reuse:
    psql(db, "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE email = 'bench@example.com'); "
             "DELETE FROM users WHERE email = 'bench@example.com'")
server = Server(binary, work, {k: v for k, v in env.items() if k.startswith("VITRINE_")})
popular = scalar("SELECT asset_id FROM usage_monthly GROUP BY asset_id ORDER BY sum(views) DESC LIMIT 1")
today = datetime.date.today()
last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
last_month = last_month_end.replace(day=1)
year_ago = today - datetime.timedelta(days=365)

ONE = ("query($a: ID!, $from: NaiveDate!, $to: NaiveDate!) { usageStats(filter: { assetIds: [$a] }, "
       "from: $from, to: $to, groupBy: [MONTH]) { rows { period views downloads shares shareOpens } } }")
TOP = ("query($from: NaiveDate!, $to: NaiveDate!) { topAssets(metric: VIEWS, from: $from, to: $to, first: 100) "
       "{ asset { id title } views downloads } }")


def measure(name, query, variables, check):
    for _ in range(20):
        check(server.gql(query, variables))
    times = []
    for _ in range(200):
        t = time.perf_counter()
        answer = server.gql(query, variables)
        times.append((time.perf_counter() - t) * 1000)
        check(answer)
    times.sort()
    print(f"{name}: p50 {times[99]:.1f} ms, p99 {times[197]:.1f} ms, max {times[-1]:.1f} ms")


def ok_one(answer):
    assert "errors" not in answer, answer
    assert len(answer["data"]["usageStats"]["rows"]) >= 12, answer


def ok_top(answer):
    assert "errors" not in answer, answer
    assert len(answer["data"]["topAssets"]) == 100, answer


measure("usageStats, one asset over a year by month", ONE,
        {"a": popular, "from": str(year_ago), "to": str(today)}, ok_one)
measure("topAssets, top 100 of last month", TOP,
        {"from": str(last_month), "to": str(last_month_end)}, ok_top)
measure("topAssets, top 100 of the last 30 days (daily rows at both ends)", TOP,
        {"from": str(today - datetime.timedelta(days=29)), "to": str(today)}, ok_top)
first = int(scalar("SELECT last_seq FROM audit_chain_head WHERE id = 1")) + 1
psql(db, events_sql(first, 10_000, "now() - interval '10 seconds'", "interval '1 millisecond'"))
measure("usageStats, one asset over a year, with 10,000 events not rolled up", ONE,
        {"a": popular, "from": str(year_ago), "to": str(today)}, ok_one)
measure("topAssets, top 100 of the last 30 days, with 10,000 events not rolled up", TOP,
        {"from": str(today - datetime.timedelta(days=29)), "to": str(today)}, ok_top)
server.process.terminate()
server.process.wait()
if not os.environ.get("KEEP_DB"):
    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
