// Cross-origin use of the API from real pages in headless Chromium.
//
// Started by tests/tests/browser.rs with the server running; serves one
// empty page on each of two loopback ports (one listed in
// VITRINE_CORS_ALLOWED_ORIGINS, one not) and runs scripts in them:
//   VT_API            the server's base URL (http://127.0.0.1:<port>)
//   VT_TOKEN          a bearer token
//   VT_DELIVERY_URL   an absolute /r/ URL of a PREVIEW rendition
//   VT_EMAIL          an account the foreign page tries to sign in to
//   VT_ALLOWED_PORT   the port of the allowed origin
//   VT_OTHER_PORT     the port of an origin that is not allowed
//   VT_CHROMIUM       the browser binary (default /usr/bin/chromium)
// Exits non-zero with a message at the first thing that is not as expected.

import { chromium } from "playwright-core";
import { createServer } from "node:http";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const page_html = "<!doctype html><html><head><title>portal</title></head><body></body></html>";
const servers = [];
for (const port of [env("VT_ALLOWED_PORT"), env("VT_OTHER_PORT")]) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page_html);
  });
  await new Promise((resolve) => server.listen(Number(port), "127.0.0.1", resolve));
  servers.push(server);
}

// What a portal's frontend does, run inside a page.
async function probe({ api, token, delivery, email }) {
  const out = {};
  const gql = (query, variables, headers = {}) =>
    fetch(`${api}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
  try {
    const r = await gql("{ me { email } }", {}, { "apollo-require-preflight": "true" });
    out.api = { status: r.status, body: await r.json() };
  } catch (e) {
    out.api = { blocked: String(e) };
  }
  try {
    const r = await fetch(delivery);
    const bytes = (await r.arrayBuffer()).byteLength;
    out.delivery = {
      status: r.status,
      bytes,
      disposition: r.headers.get("content-disposition"),
    };
  } catch (e) {
    out.delivery = { blocked: String(e) };
  }
  // An <img> without crossorigin: embedding, as a partner page does.
  out.embedded = await new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth });
    img.onerror = () => resolve({ failed: true });
    img.src = delivery;
  });
  // With crossorigin: its pixels may be read only under CORS.
  out.canvas = await new Promise((resolve) => {
    const img = new Image();
    img.crossOrigin = "anonymous";
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = 4;
      c.height = 4;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0, 4, 4);
      try {
        ctx.getImageData(0, 0, 1, 1);
        resolve({ readable: true });
      } catch (e) {
        resolve({ tainted: String(e) });
      }
    };
    img.onerror = () => resolve({ failed: true });
    img.src = delivery;
  });
  out.socket = await new Promise((resolve) => {
    const ws = new WebSocket(`${api.replace("http", "ws")}/graphql/ws`, "graphql-transport-ws");
    const timer = setTimeout(() => resolve({ timeout: true }), 10000);
    ws.onopen = () =>
      ws.send(JSON.stringify({ type: "connection_init", payload: { token } }));
    ws.onmessage = (m) => {
      clearTimeout(timer);
      resolve({ message: JSON.parse(m.data).type });
      ws.close();
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve({ failed: true });
    };
  });
  // Cross-site "simple" requests, as a form would send them: a wrong
  // password for someone's account (which, if it ran, would count toward
  // locking them out).
  const login = JSON.stringify({
    query: `mutation { login(email: "${email}", password: "guessed by a foreign page") { token } }`,
  });
  const form = new FormData();
  form.append("operations", login);
  form.append("map", "{}");
  out.simple = [];
  for (const [type, body] of [
    ["text/plain", login],
    ["application/x-www-form-urlencoded", `query=${encodeURIComponent(login)}`],
    ["multipart", form],
  ]) {
    const init = { method: "POST", mode: "no-cors", body };
    if (type !== "multipart") init.headers = { "content-type": type };
    try {
      const r = await fetch(`${api}/graphql`, init);
      out.simple.push(r.type);
    } catch (e) {
      out.simple.push(`failed: ${e}`);
    }
  }
  return out;
}

const browser = await chromium.launch({
  executablePath: process.env.VT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext();
  const args = {
    api: env("VT_API"),
    token: env("VT_TOKEN"),
    delivery: env("VT_DELIVERY_URL"),
    email: env("VT_EMAIL"),
  };
  const page = await context.newPage();

  await page.goto(`http://127.0.0.1:${env("VT_ALLOWED_PORT")}/`);
  const allowed = await page.evaluate(probe, args);
  console.log("allowed origin:", JSON.stringify(allowed));
  expect(allowed.api.status === 200, `API from the allowed origin: ${JSON.stringify(allowed.api)}`);
  expect(allowed.api.body?.data?.me?.email === args.email, "the allowed origin read me.email");
  expect(allowed.delivery.status === 200 && allowed.delivery.bytes > 0, "fetch of /r/ from the allowed origin");
  expect(
    /attachment|inline/.test(allowed.delivery.disposition ?? ""),
    "Content-Disposition is exposed to the allowed origin",
  );
  expect(allowed.embedded.width > 0, "an <img> of /r/ on the allowed origin");
  expect(allowed.canvas.readable === true, `canvas of /r/ on the allowed origin: ${JSON.stringify(allowed.canvas)}`);
  expect(allowed.socket.message === "connection_ack", `WebSocket from the allowed origin: ${JSON.stringify(allowed.socket)}`);

  await page.goto(`http://127.0.0.1:${env("VT_OTHER_PORT")}/`);
  const other = await page.evaluate(probe, args);
  console.log("other origin:", JSON.stringify(other));
  expect(other.api.blocked, "the API answered a script of a foreign origin");
  expect(other.delivery.blocked, "a foreign origin's script read a /r/ response");
  expect(other.embedded.width > 0, "an <img> of /r/ on a partner page (embedding is allowed)");
  expect(!other.canvas.readable, "a foreign origin read the pixels of /r/");
  expect(other.socket.message !== "connection_ack", "a foreign origin's WebSocket was admitted");
  expect(other.simple.length === 3, "three simple requests were sent");
  console.log("browser checks passed");
} finally {
  await browser.close();
  for (const s of servers) s.close();
}
