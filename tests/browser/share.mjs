// The share-link visitor page in a real browser (headless Chromium).
//
// Started by tests/tests/browser.rs with the server already running and the
// links made; reads its inputs from the environment:
//   VT_PROTECTED_URL  a DOWNLOAD link with a password
//   VT_PASSWORD       its password
//   VT_PREVIEW_URL    a PREVIEW link without a password
//   VT_GRAPHQL_URL, VT_ADMIN_TOKEN, VT_PROTECTED_ID  to revoke the first link
//   VT_CHROMIUM       the browser binary (default /usr/bin/chromium)
//   VT_DOWNLOAD_DIR   where the downloaded file is kept
// Exits non-zero with a message at the first thing that is not as expected.

import { chromium } from "playwright-core";
import { statSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.VT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, javaScriptEnabled: false });
  const page = await context.newPage();

  // 1. The password prompt, and nothing of the images before it.
  let response = await page.goto(env("VT_PROTECTED_URL"));
  expect(response.status() === 200, `prompt status ${response.status()}`);
  expect(await page.locator("input[type=password]").count() === 1, "no password field");
  expect(await page.locator("img").count() === 0, "images before the password");

  // 2. A wrong password: told so, still no images.
  await page.fill("input[type=password]", "not the password");
  await Promise.all([page.waitForLoadState("domcontentloaded"), page.click("button[type=submit]")]);
  expect(await page.locator("#message").count() === 1, "no message after a wrong password");
  expect(await page.locator("img").count() === 0, "images after a wrong password");

  // 3. The right password: the previews, loaded (the page's "load" event
  // waits for its images; each must have been answered 200).
  const imageStatuses = [];
  const isDelivery = (url) => new URL(url).pathname.startsWith("/r/");
  page.on("response", (r) => {
    if (isDelivery(r.url())) imageStatuses.push(r.status());
  });
  page.on("requestfailed", (r) => {
    if (isDelivery(r.url())) imageStatuses.push(`failed: ${r.failure()?.errorText}`);
  });
  await page.fill("input[type=password]", env("VT_PASSWORD"));
  await Promise.all([
    page.waitForURL(env("VT_PROTECTED_URL"), { waitUntil: "load", timeout: 60000 }),
    page.click("button[type=submit]"),
  ]);
  const count = await page.locator("li.asset img").count();
  expect(count === 2, `expected 2 previews, saw ${count}`);
  // Events arrive after the load state on a busy machine: wait for both.
  for (let i = 0; i < 300 && imageStatuses.length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(
    imageStatuses.length === 2 && imageStatuses.every((s) => s === 200),
    `preview responses: ${JSON.stringify(imageStatuses)}`,
  );

  // 4. A download where the scope allows it.
  const buttons = page.locator("a.download");
  expect(await buttons.count() === 2, "expected a download button per image");
  const [download] = await Promise.all([page.waitForEvent("download"), buttons.first().click()]);
  const name = download.suggestedFilename();
  expect(/^vitrine-[0-9a-f]{12}-v1-original\.jpg$/.test(name), `download name ${name}`);
  const saved = join(env("VT_DOWNLOAD_DIR"), name);
  await download.saveAs(saved);
  expect(statSync(saved).size > 1000, "the downloaded file is empty");

  // 5. A PREVIEW link: previews, and no download button at all.
  response = await page.goto(env("VT_PREVIEW_URL"));
  expect(response.status() === 200, `preview link status ${response.status()}`);
  expect(await page.locator("li.asset img").count() === 1, "no preview on the PREVIEW link");
  expect(await page.locator("a.download").count() === 0, "a download button on a PREVIEW link");

  // 6. Revoked: the unavailable page, naming nothing.
  const revoked = await fetch(env("VT_GRAPHQL_URL"), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${env("VT_ADMIN_TOKEN")}` },
    body: JSON.stringify({
      query: "mutation($id: ID!) { revokeShareLink(id: $id) { state } }",
      variables: { id: env("VT_PROTECTED_ID") },
    }),
  }).then((r) => r.json());
  expect(revoked?.data?.revokeShareLink?.state === "REVOKED", `revoke: ${JSON.stringify(revoked)}`);
  response = await page.goto(env("VT_PROTECTED_URL"));
  expect(response.status() === 410, `revoked status ${response.status()}`);
  expect(await page.locator("#unavailable").count() === 1, "no unavailable page");
  expect(await page.locator("img").count() === 0, "images on the unavailable page");
  const text = await page.textContent("body");
  expect(!text.includes("Look"), "the unavailable page names an asset");
  console.log("browser checks passed");
} finally {
  await browser.close();
}
