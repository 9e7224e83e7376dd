// The graphql-http server audits (GraphQL over HTTP spec conformance) against
// a running server:
//
//   npm ci --prefix tests/graphql-http
//   VT_GRAPHQL_URL=http://127.0.0.1:8080/graphql node tests/graphql-http/audit.mjs
//
// Prints every audit (ok / notice / warn / error, its id and name; for a
// failing one the reason, the response status and content type, and the
// response body), then `graphql-http audit: N ok, W warnings, E errors`.
// Failing MAY audits are notices: printed and counted on a line of their own,
// but they do not fail the run. Exits 1 when W + E > 0, 2 when it cannot run.

import { serverAudits } from "graphql-http";

const url = process.env.VT_GRAPHQL_URL;
if (!url) {
  console.error("VT_GRAPHQL_URL is not set (e.g. http://127.0.0.1:8080/graphql)");
  process.exit(2);
}

const MAX_BODY = 2000;

/** The body of a failing audit's response, if graphql-http left it unread. */
async function describeResponse(response) {
  if (!response) return [];
  const lines = [
    `response: ${response.status} ${response.statusText || ""}`.trimEnd() +
      ` (content-type: ${response.headers.get("content-type") ?? "none"})`,
  ];
  if (response.bodyUsed) {
    lines.push("body: (already read by the audit)");
    return lines;
  }
  try {
    let text = await response.text();
    if (text.length > MAX_BODY) text = `${text.slice(0, MAX_BODY)}… (${text.length} chars)`;
    lines.push(`body: ${text === "" ? "(empty)" : text}`);
  } catch (e) {
    lines.push(`body: (unreadable: ${e.message})`);
  }
  return lines;
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
// One at a time: the order is stable and a rate limiter sees no burst.
for (const { id, name, fn } of serverAudits({ url, fetchFn: fetch })) {
  let result;
  try {
    result = await fn();
  } catch (e) {
    // graphql-http throws only for fatal problems (e.g. the server is down).
    result = { id, name, status: "error", reason: `fatal: ${e?.cause?.message ?? e?.message ?? e}` };
  }
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  console.log(`${result.status.padEnd(6)} ${result.id}  ${result.name}`);
  if (result.status !== "ok") {
    console.log(`       reason: ${result.reason}`);
    for (const line of await describeResponse(result.response)) console.log(`       ${line}`);
  }
}

if (counts.notice > 0) {
  console.log(`notices (failing MAY audits, not counted below): ${counts.notice}`);
}
console.log(
  `graphql-http audit: ${counts.ok} ok, ${counts.warn} warnings, ${counts.error} errors`,
);
process.exit(counts.warn + counts.error > 0 ? 1 : 0);
