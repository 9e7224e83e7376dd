#!/usr/bin/env python3
"""Requests/s for a cached THUMBNAIL through `/r/` against nginx serving the
same file from disk, in one run, with wrk over loopback (keep-alive).

Starts `vitrine serve` (SQLite, local blobs), uploads a real photograph,
waits for its renditions, issues a THUMBNAIL URL to a VIEWER member, and
points wrk at it; then starts nginx (one worker, sendfile, open_file_cache,
no access log) on the thumbnail's bytes and points the same wrk at it. Every
request through `/r/` verifies the URL's signature, decides the policy
again and is written to the audit log before the bytes go out (group
commit), which nginx does not do; the ratio is what that costs.

    apt-get install wrk nginx-light        # or nginx
    cargo build --release --bin vitrine
    python3 bench/delivery.py target/release/vitrine [seconds] [connections] [rounds] [postgres://…/db]

Both servers get the same CPU budget: the machine's cores, shared with wrk.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, free_port  # noqa: E402

NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=100 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    types {{ {types}; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            add_header Cache-Control "{cache_control}";
            add_header X-Content-Type-Options nosniff;
        }}
    }}
}}
"""


def start_nginx(nginx, work, content, name, types, cache_control):
    """nginx serving `content` as `/{name}` from a directory in `work`
    (one worker per core, sendfile, open_file_cache, no access log), once it
    answers; returns the process and the file's URL."""
    root = os.path.join(work, "www")
    os.makedirs(root)
    # nginx's workers drop to an unprivileged user when started as root.
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(content)
    os.chmod(path, 0o644)
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(workers="auto", work=work, port=port, root=root, types=types,
                                  cache_control=cache_control))
    process = subprocess.Popen([nginx, "-c", conf, "-p", work], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/{name}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url)
            break
        except OSError:
            time.sleep(0.05)
    return process, url


def wrk(url, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    return rps, p50, p99


def main():
    binary = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    database = sys.argv[5] if len(sys.argv) > 5 else None
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    fixtures = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    with tempfile.TemporaryDirectory() as work:
        extra = {"VITRINE_DELIVERY_MAX_TTL": "1d"}
        if database:
            # A fresh PostgreSQL database for this run.
            name = f"vitrine_bench_{int(time.time())}"
            subprocess.run(["psql", database, "-qc", f"create database {name}"], check=True)
            extra["VITRINE_DATABASE_URL"] = database.rsplit("/", 1)[0] + "/" + name
        server = Server(binary, work, extra)
        ngx = None
        try:
            answer, _ = server.upload(os.path.join(fixtures, "garden.jpg"),
                                      "mutation($file: Upload!) { uploadAsset(file: $file) { id } }")
            asset = answer["data"]["uploadAsset"]["id"]
            viewer = server.gql(
                "mutation { createUser(input: { email: \"viewer@example.com\", displayName: \"Viewer\", "
                "password: \"correct horse battery staple\", role: VIEWER }) { id } }")
            assert not viewer.get("errors"), viewer
            token = server.gql("mutation { login(email: \"viewer@example.com\", "
                               "password: \"correct horse battery staple\") { token } }")["data"]["login"]["token"]
            for _ in range(600):
                state = server.gql("query($id: ID!) { asset(id: $id) { currentVersion { processing { state } } } }",
                                   {"id": asset})
                if state["data"]["asset"]["currentVersion"]["processing"]["state"] == "READY":
                    break
                time.sleep(0.1)
            url = server.gql("query($id: ID!) { asset(id: $id) { url(kind: THUMBNAIL, ttlSeconds: 3600) } }",
                             {"id": asset}, token=token)["data"]["asset"]["url"]
            url = f"http://127.0.0.1:{server.port}{url}"
            with urllib.request.urlopen(url) as resp:
                thumbnail = resp.read()
            ngx, nginx_url = start_nginx(nginx, work, thumbnail, "thumbnail.jpg", "image/jpeg jpg",
                                         "private, max-age=600")
            print(f"thumbnail: {len(thumbnail)} bytes; wrk -t1 -c{connections} -d{seconds}s, {rounds} rounds each")
            # Warm both up, then alternate so that neither gets a quieter machine.
            wrk(url, 2, connections)
            wrk(nginx_url, 2, connections)
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(wrk(url, seconds, connections))
                theirs.append(wrk(nginx_url, seconds, connections))
            for name, runs in (("vitrine /r/", ours), ("nginx file", theirs)):
                for rps, p50, p99 in runs:
                    print(f"{name:12} {rps:10.0f} req/s  p50 {p50:>8}  p99 {p99:>8}")
            best_ours = max(r[0] for r in ours)
            best_theirs = max(r[0] for r in theirs)
            median_ours = sorted(r[0] for r in ours)[len(ours) // 2]
            median_theirs = sorted(r[0] for r in theirs)[len(theirs) // 2]
            print(f"median: vitrine {median_ours:.0f} req/s, nginx {median_theirs:.0f} req/s, "
                  f"ratio {median_ours / median_theirs:.2f}x (best {best_ours / best_theirs:.2f}x)")
            events = server.gql("{ auditEvents(first: 1, filter: { action: RENDITION_VIEWED }) "
                                "{ edges { node { seq } } } }")
            print(f"audit log head: seq {events['data']['auditEvents']['edges'][0]['node']['seq']}")
        finally:
            if ngx:
                ngx.terminate()
                ngx.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    main()
