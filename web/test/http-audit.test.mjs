// Runs graphql-http's server audits (GraphQL over HTTP) against the running server, as an
// authenticated agent. Every MUST and every SHOULD has to pass (the README lists no
// exception); MAY audits are reported.
import assert from "node:assert/strict";
import { test } from "node:test";
import { serverAudits } from "graphql-http";

import { endpoint, adminToken } from "./server.mjs";

test("the server passes graphql-http's audits", async () => {
  const authorised = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${adminToken()}`);
    return fetch(input, { ...init, headers });
  };
  const audits = serverAudits({ url: endpoint(), fetchFn: authorised });
  const results = [];
  for (const audit of audits) {
    results.push(await audit.fn());
  }
  const count = (status) => results.filter((result) => result.status === status).length;
  const failed = results.filter((result) => result.status !== "ok");
  for (const result of failed) {
    const body = result.response ? await result.response.text().catch(() => "") : "";
    console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${result.reason}`);
    if (body) console.log(`    response ${result.response.status}: ${body.slice(0, 300)}`);
  }
  console.log(
    `graphql-http audits: ${results.length} run, ${count("ok")} passed, ` +
      `${count("warn")} warnings (SHOULD), ${count("notice")} notices (MAY), ` +
      `${count("error")} errors (MUST)`
  );
  assert.deepEqual(
    failed.filter((result) => result.status === "error").map((result) => result.id),
    [],
    "every MUST audit passes"
  );
  assert.deepEqual(
    failed.filter((result) => result.status === "warn").map((result) => result.id),
    [],
    "every SHOULD audit passes"
  );
});
