"""Shared helpers for the benchmark scripts: start a server, speak GraphQL."""
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """`vitrine serve` in a temporary data directory, with an admin signed in."""

    def __init__(self, binary, work, extra_env=None):
        self.binary = os.path.abspath(binary)
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "VITRINE_DATA_DIR": os.path.join(work, "data"),
            "VITRINE_BIND": f"127.0.0.1:{self.port}",
            "VITRINE_LOG": "warn",
            "VITRINE_LOGIN_MAX_FAILURES_PER_IP": "100000",
            "VITRINE_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
        })
        self.env.update(extra_env or {})
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.process = subprocess.Popen([self.binary, "serve"], env=self.env, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run([self.binary, "admin", "create-user", "--email", "bench@example.com", "--role", "ADMIN"],
                       input=b"correct horse battery staple\n", env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        answer = self.gql("mutation { login(email: \"bench@example.com\", password: \"correct horse battery staple\") { token user { id } } }")
        self.token = answer["data"]["login"]["token"]
        self.admin_id = answer["data"]["login"]["user"]["id"]

    def gql(self, query, variables=None, token=None):
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = {"content-type": "application/json"}
        if token or getattr(self, "token", None):
            headers["authorization"] = f"Bearer {token or self.token}"
        req = urllib.request.Request(self.url, body, headers)
        with urllib.request.urlopen(req) as resp:
            return json.load(resp)

    def upload(self, path, query, variables=None):
        boundary = uuid.uuid4().hex
        operations = json.dumps({"query": query, "variables": dict(variables or {}, file=None)})
        with open(path, "rb") as f:
            data = f.read()
        parts = [
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        body = b"".join(parts)
        req = urllib.request.Request(self.url, body, {
            "content-type": f"multipart/form-data; boundary={boundary}",
            "authorization": f"Bearer {self.token}",
        })
        with urllib.request.urlopen(req) as resp:
            return json.load(resp), len(data)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]
