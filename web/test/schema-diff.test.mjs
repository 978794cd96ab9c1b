// The schema contract check (web/schema-diff.mjs) on small schemas.
import assert from "node:assert/strict";
import { test } from "node:test";

import { compare } from "../schema-diff.mjs";

const BEFORE = `
  type Query {
    contact(id: ID!): Contact
    legacyName: String @deprecated(reason: "Use contact.name")
  }
  type Contact {
    id: ID!
    name: String!
    nickname: String @deprecated(reason: "Use name")
    notes(first: Int, order: String @deprecated(reason: "Always newest first")): [String!]!
  }
  enum Network { X INSTAGRAM MYSPACE @deprecated(reason: "Closed") }
  input NoteInput { body: String!, format: String @deprecated(reason: "Plain text only") }
  type Mutation { addNote(input: NoteInput!, network: Network): String }
`;

const breaking = async (after) =>
  (await compare(BEFORE, after)).filter((change) => change.breaking).map((change) => change.path);

test("an unchanged schema has no breaking change", async () => {
  assert.deepEqual(await breaking(BEFORE), []);
});

test("additions are not breaking", async () => {
  const after = BEFORE.replace("name: String!", "name: String!\n    isVip: Boolean!");
  assert.deepEqual(await breaking(after), []);
});

test("removing or renaming a field that was not deprecated is breaking", async () => {
  assert.deepEqual(await breaking(BEFORE.replace("name: String!", "")), ["Contact.name"]);
  assert.deepEqual(await breaking(BEFORE.replace("name: String!", "fullName: String!")), [
    "Contact.name",
  ]);
});

test("removing what the previous version deprecated is accepted", async () => {
  const after = `
    type Query { contact(id: ID!): Contact }
    type Contact { id: ID!, name: String!, notes(first: Int): [String!]! }
    enum Network { X INSTAGRAM }
    input NoteInput { body: String! }
    type Mutation { addNote(input: NoteInput!, network: Network): String }
  `;
  const changes = await compare(BEFORE, after);
  assert.equal(changes.filter((change) => change.type.endsWith("_REMOVED")).length, 5);
  assert.deepEqual(await breaking(after), []);
});

test("type changes and new required arguments are breaking", async () => {
  assert.deepEqual(await breaking(BEFORE.replace("name: String!", "name: Int!")), [
    "Contact.name",
  ]);
  assert.deepEqual(
    await breaking(BEFORE.replace("contact(id: ID!)", "contact(id: ID!, network: Network!)")),
    ["Query.contact.network"]
  );
});
