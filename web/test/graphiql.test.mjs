// GraphiQL in a real browser (Debian's Chromium, driven by playwright-core; never a
// downloaded browser), against a server in demo mode: the page and everything it loads
// come from this server, the pre-filled demo admin token works, the header editor's token
// is the one sent, and a contact query shows its result. Saves a screenshot to
// artifacts/graphiql.png.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { adminToken, agentToken, baseUrl, endpoint } from "./server.mjs";

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), "../../artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const CONTACTS = "query Contacts { contacts(first: 20) { nodes { id name notes { totalCount } } } }";

let browser;
let contact;

before(async () => {
  const response = await fetch(endpoint(), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken()}` },
    body: JSON.stringify({ query: CONTACTS }),
  });
  assert.equal(response.status, 200);
  // One with notes, so that the screenshot shows the Notes tab's data too.
  [contact] = (await response.json()).data.contacts.nodes.sort(
    (a, b) => b.notes.totalCount - a.notes.totalCount
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});

after(async () => {
  await browser?.close();
});

/** A page that records every request and console error, and lets no request leave
 * the server's host. */
async function openGraphiQL() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const seen = { requests: [], outside: [], errors: [] };
  const { host } = new URL(baseUrl());
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    seen.requests.push(url.href);
    if (url.protocol === "data:" || url.host === host) return route.continue();
    seen.outside.push(url.href);
    return route.abort();
  });
  page.on("console", (message) => {
    if (message.type() === "error") seen.errors.push(message.text());
  });
  page.on("pageerror", (error) => seen.errors.push(error.message));
  const response = await page.goto(endpoint(), { waitUntil: "networkidle" });
  assert.equal(response.status(), 200, "the GraphiQL page is served");
  await page.waitForSelector(".graphiql-execute-button");
  return { context, page, seen };
}

async function editor(page, selector) {
  const handle = await page.waitForSelector(selector);
  return {
    value: () => handle.evaluate((element) => element.CodeMirror.getValue()),
    set: (text) => handle.evaluate((element, value) => element.CodeMirror.setValue(value), text),
  };
}

const queryEditor = (page) => editor(page, ".graphiql-query-editor .CodeMirror");
const headersEditor = (page) =>
  editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror");
const resultViewer = (page) => editor(page, ".graphiql-response .CodeMirror");

async function run(page, query) {
  const result = await resultViewer(page);
  await (await queryEditor(page)).set(query);
  // GraphiQL reads the operation name from the editor after a debounce; running before it
  // settles would send the previous document's name.
  await page.waitForTimeout(500);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => {
      const text = document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue();
      return text.includes('"data"') || text.includes('"errors"');
    },
    undefined,
    { timeout: 15000 }
  );
  return JSON.parse(await result.value());
}

test("GraphiQL runs a contact query with the pre-filled token, loading nothing from elsewhere", async () => {
  const { context, page, seen } = await openGraphiQL();
  try {
    // `server.py --demo` issues the demo agents fresh tokens and pre-fills the admin's.
    const headers = JSON.parse(await (await headersEditor(page)).value());
    assert.match(headers.Authorization, /^Bearer [\w-]+$/, "a demo token is pre-filled");

    const result = await run(
      page,
      `query ContactPanel {\n  viewer { role }\n  contact(id: "${contact.id}") {\n    id\n` +
        `    name\n    handle\n    network\n    profileUrl\n    validation { status }\n` +
        `    notes(first: 3) { totalCount nodes { body author { name } } }\n  }\n}\n`
    );
    assert.equal(result.errors, undefined);
    assert.equal(result.data.viewer.role, "ADMIN");
    assert.equal(result.data.contact.id, contact.id);
    assert.equal(result.data.contact.name, contact.name);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: resolve(ARTIFACTS, "graphiql.png") });

    assert.deepEqual(seen.outside, [], "no request leaves the server");
    assert.ok(
      seen.requests.some((url) => url.includes("/graphiql/static/graphiql.min.js")),
      "GraphiQL's script came from this server"
    );
    assert.deepEqual(seen.errors, [], "no console errors (CSP violations included)");
  } finally {
    await context.close();
  }
});

test("GraphiQL sends the token written in its header editor", async () => {
  const { context, page, seen } = await openGraphiQL();
  try {
    await (await headersEditor(page)).set(
      JSON.stringify({ Authorization: `Bearer ${agentToken()}` }, null, 2)
    );
    const result = await run(page, "query Me {\n  viewer { name role }\n}\n");
    assert.equal(result.data.viewer.role, "AGENT");
    assert.deepEqual(seen.outside, []);
  } finally {
    await context.close();
  }
});
