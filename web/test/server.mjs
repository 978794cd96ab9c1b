// Where the server under test is and who may call it: set by .ci/run, which starts the
// server on a free port and seeds it with `python server.py seed --json`.
import assert from "node:assert/strict";

function required(name) {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (.ci/run sets it)`);
  return value;
}

/** The server's base URL, e.g. http://127.0.0.1:8123 */
export const baseUrl = () => required("INBOX_BASE_URL").replace(/\/$/, "");
/** The GraphQL endpoint. */
export const endpoint = () => `${baseUrl()}/graphql`;
/** Bearer token of the seeded organisation's admin. */
export const adminToken = () => required("INBOX_ADMIN_TOKEN");
/** Bearer token of the seeded organisation's (non-admin) agent. */
export const agentToken = () => required("INBOX_AGENT_TOKEN");
