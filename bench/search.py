#!/usr/bin/env python3
"""Search latency with a 100,000-asset library of realistic product text, and
what keeping the search index costs.

Starts `vitrine serve` on a fresh database (PostgreSQL URL, or `sqlite` for the
embedded default), uploads one real photograph through the API, then files
`count` assets by SQL: a title (material, product, SKU), a description (view,
stone, collection), 5 to 15 tags from a 200-word vocabulary, a current version.
The server is restarted: its start-up backfill builds every search document
through the same Rust code as uploads (that time, per document, is the index
cost). Then it times, over loopback, as an administrator and as a partner:

- a two-word query with a stage filter, total and all seven facets, first page;
- the same query on a deep page (page 21 by cursor);
- a one-word query with a license filter and facets.

Last, the median time of an upload through the API, beside the per-document
index cost.

    cargo build --release --bin vitrine
    python3 bench/search.py target/release/vitrine postgres://postgres@127.0.0.1:5432/test 100000 300
    python3 bench/search.py target/release/vitrine sqlite 100000 300

BENCH_LICENSES=1 (PostgreSQL) also files 1,000 licenses over four fifths of
the library (ended, in force, expiring), so license states and filters cost
what they would in a licensed library.
BENCH_KEEP=1 keeps the PostgreSQL database afterwards (to EXPLAIN its queries);
BENCH_SERVER_LOG=FILE keeps the restarted server's log (slow statements are
logged at WARN with their SQL).
"""
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, percentile  # noqa: E402

PRODUCTS = ["ring", "earring", "necklace", "bracelet", "watch", "brooch", "pendant", "bangle",
            "cufflinks", "anklet"]
MATERIALS = ["rose gold", "white gold", "yellow gold", "silver", "platinum", "titanium", "steel",
             "ceramic"]
STONES = ["diamond", "sapphire", "ruby", "emerald", "pearl", "topaz", "onyx", "opal"]
VIEWS = ["front", "side", "back", "detail", "packshot", "lifestyle", "model", "flat lay"]
COLLECTIONS = ["ss25", "fw25", "ss26", "fw26", "ss27", "fw27", "bridal", "heritage"]
WORDS = (PRODUCTS + STONES + VIEWS + COLLECTIONS
         + [f"{a}{b}" for a in ["lux", "mod", "nova", "aura", "vela", "sol", "lumi", "ori"]
            for b in ["", "-line", "-edit", "-capsule", "-drop", "-studio", "-x", "-one", "-plus",
                      "-mini", "-max", "-pro", "-lite", "-air", "-neo", "-zen", "-arc", "-ion",
                      "-lab", "-set", "-kit", "-box"]])[:200]

QUERY = """query($q: String!, $f: AssetFilter, $after: String) {
  search(query: $q, filter: $f, first: 50, after: $after) {
    edges { score node { id title tags } } pageInfo { hasNextPage endCursor } totalCount
    facets { tags { value count } folders { value count } stages { value count }
             moderationStates { value count } licenseStates { value count }
             orientations { value count } cameraModels { value count } } } }"""


def v7(i):
    """A time-ordered (version 7) UUID for the i-th asset."""
    ms = 1_700_000_000_000 + i
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | (i & ((1 << 62) - 1)))


def rows(count, seed=7):
    rnd = random.Random(seed)
    for i in range(count):
        product = rnd.choice(PRODUCTS)
        material = rnd.choice(MATERIALS)
        title = f"{material.title()} {product} {product[:4].upper()}-{i:05d}"
        description = (f"{rnd.choice(VIEWS).title()} shot of a {material} {product} "
                       f"with a {rnd.choice(STONES)}, {rnd.choice(COLLECTIONS)} collection")
        tags = sorted(set(rnd.sample(WORDS, rnd.randint(5, 15))))
        yield i, title, description, tags


def licenses_sql(count, admin_id):
    """With BENCH_LICENSES=1: 1,000 licenses (a third ended, a third in force,
    a third in force until within the notice period or later), each on the
    assets i with i % 1000 == its number and i % 5 != 0: four fifths of the
    library licensed, the rest unlicensed."""
    return f"""
        CREATE TEMP TABLE glic AS SELECT g AS n, gen_random_uuid() AS id FROM generate_series(0, 999) g;
        INSERT INTO licenses (id, name, licensor, channels, territories, starts_at, ends_at, created_by,
                              created_at, updated_at)
          SELECT id, 'License ' || n, 'Studio', 'ECOMMERCE,MARKETPLACE', 'WORLD',
                 now() - interval '400 days',
                 CASE n % 3 WHEN 0 THEN now() - interval '10 days'
                            WHEN 1 THEN now() + interval '300 days'
                            ELSE now() + ((n % 30) || ' days')::interval END,
                 '{admin_id}'::uuid, now(), now() FROM glic;
        INSERT INTO asset_licenses (license_id, asset_id, attached_by, attached_at)
          SELECT glic.id, gen.aid, '{admin_id}'::uuid, now() FROM gen JOIN glic ON glic.n = gen.i % 1000
          WHERE gen.i % 5 <> 0;
    """


def seed_postgres(db_url, count, admin_id, folders):
    """Bulk-loads with COPY (one transaction)."""
    with tempfile.TemporaryDirectory() as tmp:
        a_path, t_path = os.path.join(tmp, "assets.tsv"), os.path.join(tmp, "tags.tsv")
        with open(a_path, "w") as a, open(t_path, "w") as t:
            for i, title, description, tags in rows(count):
                aid = v7(i)
                a.write(f"{aid}\t{folders[i % len(folders)]}\t{title}\t{description}\t{i}\n")
                for tag in tags:
                    t.write(f"{aid}\t{tag}\n")
        sql = f"""
        BEGIN;
        CREATE TEMP TABLE gen (aid uuid, folder uuid, title text, description text, i int);
        \\copy gen FROM '{a_path}'
        CREATE TEMP TABLE gtags (aid uuid, tag text);
        \\copy gtags FROM '{t_path}'
        ALTER TABLE gen ADD COLUMN vid uuid;
        UPDATE gen SET vid = gen_random_uuid();
        INSERT INTO assets (id, folder_id, title, description, current_version_id, created_by, created_at,
                            updated_at, access_mode, awaiting_moderation)
          SELECT aid, folder, title, description, vid, '{admin_id}'::uuid,
                 now() - (({count} - i) || ' seconds')::interval, now(), 'PUBLIC', false FROM gen;
        WITH b AS (SELECT sha256, bytes, media_type, width, height FROM blobs ORDER BY sha256 LIMIT 1)
        INSERT INTO asset_versions (id, asset_id, number, stage, blob_sha256, bytes, media_type, width, height,
                                    filename, uploaded_by, created_at, processing_state, moderation_state)
          SELECT vid, aid, 1, CASE WHEN i % 3 = 0 THEN 'FINAL' ELSE 'RAW' END, b.sha256, b.bytes, b.media_type,
                 CASE WHEN i % 4 = 0 THEN b.height ELSE b.width END,
                 CASE WHEN i % 4 = 0 THEN b.width ELSE b.height END,
                 'IMG_' || i || '.jpg', '{admin_id}'::uuid, now(), 'READY', 'NOT_REQUIRED'
          FROM gen, b;
        INSERT INTO asset_tags (asset_id, tag, source) SELECT aid, tag, 'MANUAL' FROM gtags;
        {licenses_sql(count, admin_id) if os.environ.get("BENCH_LICENSES") else ""}
        COMMIT;
        ANALYZE;
        """
        subprocess.run(["psql", db_url, "-q", "-v", "ON_ERROR_STOP=1"], input=sql.encode(), check=True)


def seed_sqlite(path, count, admin_id, folders):
    """Inserts in the formats the server's own rows use (read from them)."""
    db = sqlite3.connect(path)
    created_at, blob = db.execute(
        "SELECT created_at, blob_sha256 FROM asset_versions LIMIT 1").fetchone()
    sha, size, media, w, h = db.execute(
        "SELECT sha256, bytes, media_type, width, height FROM blobs WHERE sha256 = ?", (blob,)).fetchone()
    admin = uuid.UUID(admin_id).bytes
    db.execute("BEGIN")
    for i, title, description, tags in rows(count):
        aid = v7(i).bytes
        vid = uuid.uuid4().bytes
        db.execute(
            "INSERT INTO assets (id, folder_id, title, description, current_version_id, created_by, created_at,"
            " updated_at, access_mode, awaiting_moderation) VALUES (?,?,?,?,?,?,?,?, 'PUBLIC', 0)",
            (aid, uuid.UUID(folders[i % len(folders)]).bytes, title, description, vid, admin, created_at,
             created_at))
        db.execute(
            "INSERT INTO asset_versions (id, asset_id, number, stage, blob_sha256, bytes, media_type, width,"
            " height, filename, uploaded_by, created_at, processing_state, processing_attempts,"
            " moderation_state) VALUES (?,?,1,?,?,?,?,?,?,?,?,?, 'READY', 0, 'NOT_REQUIRED')",
            (vid, aid, "FINAL" if i % 3 == 0 else "RAW", sha, size, media, h if i % 4 == 0 else w,
             w if i % 4 == 0 else h, f"IMG_{i}.jpg", admin, created_at))
        db.executemany("INSERT INTO asset_tags (asset_id, tag, source) VALUES (?, ?, 'MANUAL')",
                       [(aid, t) for t in tags])
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def restart(server):
    server.stop()
    log = os.environ.get("BENCH_SERVER_LOG")
    err = open(log, "ab") if log else subprocess.DEVNULL
    server.process = subprocess.Popen([server.binary, "serve"], env=server.env, stderr=err)
    for _ in range(600):
        try:
            if server.gql("{ me { id } }").get("data"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not come back")


def timed(server, variables, n, token=None):
    out = []
    answer = None
    for _ in range(n):
        t0 = time.perf_counter()
        answer = server.gql(QUERY, variables, token=token)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.get("errors"):
            raise SystemExit(answer["errors"])
    out.sort()
    return out, answer


def main():
    binary, target = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    postgres = target != "sqlite"
    fixtures = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    db_name = f"vitrine_bench_{int(time.time())}"
    # Partners see published assets without a license too (the seeded
    # library has none).
    env = {"VITRINE_LICENSE_UNLICENSED_DELIVERABLE": "true"}
    if postgres:
        subprocess.run(["psql", target, "-qc", f"create database {db_name}"], check=True)
        db_url = target.rsplit("/", 1)[0] + "/" + db_name
        env["VITRINE_DATABASE_URL"] = db_url
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work, env)
        try:
            upload = "mutation($file: Upload!) { uploadAsset(file: $file) { id } }"
            answer, _ = server.upload(os.path.join(fixtures, "garden.jpg"), upload)
            assert not answer.get("errors"), answer
            parents, folders = [], []
            for top in range(10):
                answer = server.gql("mutation($n: String!) { createFolder(input: { name: $n }) { id } }",
                                    {"n": f"Collection {top}"})
                parents.append(answer["data"]["createFolder"]["id"])
                for c in range(5):
                    answer = server.gql(
                        "mutation($p: ID, $n: String!) { createFolder(input: { parentId: $p, name: $n }) { id } }",
                        {"p": parents[-1], "n": f"Shoot {c}"})
                    folders.append(answer["data"]["createFolder"]["id"])
            # A partner granted one collection (a tenth of the library).
            answer = server.gql("mutation { createPartnerOrg(input: { name: \"Bench P\", allowlisted: true }) { id } }")
            org = answer["data"]["createPartnerOrg"]["id"]
            server.gql("mutation($o: ID!) { createUser(input: { email: \"p@bench.test\", displayName: \"P\","
                       " password: \"correct horse battery staple\", kind: PARTNER, partnerOrgId: $o }) { id } }",
                       {"o": org})
            server.gql("mutation($f: ID!, $o: ID!) { grantAccess(folderId: $f, subject: { kind: PARTNER_ORG, id: $o },"
                       " level: VIEW) { level } }", {"f": parents[0], "o": org})
            partner = server.gql("mutation { login(email: \"p@bench.test\", password: \"correct horse battery staple\")"
                                 " { token } }")["data"]["login"]["token"]

            t0 = time.perf_counter()
            if postgres:
                seed_postgres(db_url, count, server.admin_id, folders)
            else:
                server.stop()
                seed_sqlite(os.path.join(work, "data", "vitrine.sqlite"), count, server.admin_id, folders)
            print(f"seeded {count} assets in {time.perf_counter() - t0:.1f} s")

            # The start-up backfill builds every document (same code as uploads).
            t0 = time.perf_counter()
            restart(server)
            while True:
                answer = server.gql("{ search(query: \"\", first: 1) { totalCount } }")
                if answer["data"]["search"]["totalCount"] >= count:
                    break
                time.sleep(0.5)
            indexing = time.perf_counter() - t0
            per_doc = indexing / count * 1000
            print(f"search documents built for {count} assets in {indexing:.1f} s ({per_doc:.2f} ms each)")

            two = {"q": "gold ring", "f": {"stage": "RAW"}}
            first, answer = timed(server, two, n)
            hits = answer["data"]["search"]["totalCount"]
            cursor = None
            for _ in range(20):
                cursor = server.gql(QUERY, dict(two, after=cursor))["data"]["search"]["pageInfo"]["endCursor"]
            deep, _ = timed(server, dict(two, after=cursor), n)
            one = {"q": "sapphire", "f": {"licenseState": "UNLICENSED", "orientation": "LANDSCAPE"}}
            lic, lic_answer = timed(server, one, n)
            p_first, p_answer = timed(server, two, n, token=partner)
            kind = "PostgreSQL" if postgres else "SQLite"
            print(f"search on {kind}, {count} assets, {n} requests each, {binary}")
            for label, xs, total in [
                ("\"gold ring\" + stage, facets, page 1", first, hits),
                ("same, page 21 (cursor)", deep, hits),
                ("\"sapphire\" + license + shape, facets", lic, lic_answer["data"]["search"]["totalCount"]),
                ("same as a partner (a tenth granted)", p_first, p_answer["data"]["search"]["totalCount"]),
            ]:
                print(f"  {label:40s} {total:6d} hits  p50 {percentile(xs, 50):7.2f} ms  "
                      f"p99 {percentile(xs, 99):7.2f} ms")

            times = []
            for _ in range(10):
                for photo in ["garden.jpg", "yellow-flower.jpg", "chelsea.png", "coffee.png"]:
                    t0 = time.perf_counter()
                    answer, _ = server.upload(os.path.join(fixtures, photo), upload)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert not answer.get("errors"), answer
            times.sort()
            med = percentile(times, 50)
            print(f"upload request median {med:.1f} ms; a search document {per_doc:.2f} ms "
                  f"({per_doc / med * 100:.1f} % of an upload)")
        finally:
            server.stop()
            if postgres and not os.environ.get("BENCH_KEEP"):
                subprocess.run(["psql", target, "-qc", f"drop database if exists {db_name} with (force)"])
            elif postgres:
                print(f"kept database {db_name}")
            elif os.environ.get("BENCH_KEEP"):
                import shutil
                shutil.copytree(os.path.join(work, "data"), "/tmp/bench_sqlite_data", dirs_exist_ok=True)
                print("kept the SQLite data in /tmp/bench_sqlite_data")


if __name__ == "__main__":
    main()
