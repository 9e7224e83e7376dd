// GraphiQL in a real browser (headless Chromium), offline.
//
// Started by tests/tests/graphiql.rs with the server already running; reads
// its inputs from the environment:
//   VT_BASE        the server, e.g. http://127.0.0.1:PORT
//   VT_TOKEN       a signed-in admin's bearer token
//   VT_EMAIL       that admin's email address
//   VT_SCREENSHOT  where the screenshot (PNG) goes
//   VT_CHROMIUM    the browser binary (default /usr/bin/chromium)
// Every request to another origin is aborted (and counted: there must be
// none), so the page can only work from what the server itself serves.
// Exits non-zero with a message at the first thing that is not as expected.

import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const base = new URL(env("VT_BASE"));
const token = env("VT_TOKEN");
const email = env("VT_EMAIL");

const browser = await chromium.launch({
  executablePath: process.env.VT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
  });
  const page = await context.newPage();

  // Offline: only the server's own origin is reachable.
  const foreign = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.origin === base.origin || url.protocol === "data:") return route.continue();
    foreign.push(url.href);
    return route.abort("internetdisconnected");
  });
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
  });

  // 1. The page, its scripts and styles (each checked against its SRI hash
  // by the browser: a mismatch is a console error and no GraphiQL).
  const response = await page.goto(new URL("/graphql", base).href);
  expect(response.status() === 200, `page status ${response.status()}`);
  await page.waitForSelector(".graphiql-container", { timeout: 30000 });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 30000 });

  // 2. The token, pasted into the headers editor (open by default); the
  // schema is then loaded again with it.
  const headersEditor = page.locator(".graphiql-editor-tool .CodeMirror:visible");
  await headersEditor.waitFor({ state: "visible", timeout: 10000 });
  const schemaLoaded = page.waitForResponse(
    (r) =>
      new URL(r.url()).pathname === "/graphql" &&
      (r.request().postData() || "").includes("IntrospectionQuery") &&
      r.request().headers()["authorization"] === `Bearer ${token}`,
    { timeout: 30000 },
  );
  await headersEditor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
  const introspection = await (await schemaLoaded).json();
  expect(
    introspection?.data?.__schema?.queryType?.name === "Query",
    `no schema with the token: ${JSON.stringify(introspection).slice(0, 300)}`,
  );

  // 3. The query, run with the run button.
  await page.locator(".graphiql-query-editor .CodeMirror").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText("{ me { email } }");
  const ran = page.waitForResponse(
    (r) => new URL(r.url()).pathname === "/graphql" && (r.request().postData() || "").includes("me"),
    { timeout: 30000 },
  );
  await page.locator(".graphiql-execute-button").click();
  const result = await (await ran).json();
  expect(result?.data?.me?.email === email, `the query answered ${JSON.stringify(result)}`);

  // 4. The result on screen.
  const pane = page.locator(".graphiql-response .result-window");
  await page.waitForFunction(
    (text) => document.querySelector(".graphiql-response")?.innerText.includes(text),
    email,
    { timeout: 10000 },
  );
  const shown = await pane.innerText();
  expect(shown.includes(`"email": "${email}"`), `the result pane shows: ${shown}`);

  // 5. The token was not kept in localStorage.
  // GraphiQL saves its tabs after a debounce (with their headers, and the
  // history with the headers each query ran with, unless init.js's storage
  // drops them): no "headers" field may be stored at all.
  await page.waitForFunction(
    () => (window.localStorage.getItem("graphiql:tabState") || "").includes("me { email }"),
    null,
    { timeout: 10000 },
  );
  await page.waitForTimeout(500);
  const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage }));
  expect(stored.includes("\"graphiql:query\"") || stored.includes("graphiql:tabState"), `nothing stored: ${stored}`);
  expect(!stored.includes(token), "the token is in localStorage");
  expect(!stored.includes("headers"), `headers are stored: ${stored}`);

  await page.screenshot({ path: env("VT_SCREENSHOT") });
  expect(foreign.length === 0, `requests to other origins: ${foreign.join(", ")}`);
  expect(problems.length === 0, `problems:\n${problems.join("\n")}`);
  console.log("browser checks passed");
} finally {
  await browser.close();
}
