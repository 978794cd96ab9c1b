// A real client against the running server: Apollo Client 4 with its normalized cache,
// automatic persisted queries and Relay-style pagination, as the Contact panel SPA uses it.
// Any GraphQL or network error fails the test (errorPolicy "none").
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { test } from "node:test";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { relayStylePagination } from "@apollo/client/utilities";

import { adminToken, endpoint } from "./server.mjs";

const NOTE_FIELDS = gql`
  fragment NoteFields on Note {
    id
    body
    version
    createdAt
    updatedAt
    author {
      id
      name
    }
  }
`;

const CONTACT_PANEL = gql`
  query ContactPanel($id: ID!, $notesFirst: Int!, $notesAfter: String) {
    contact(id: $id) {
      id
      name
      handle
      network
      avatarUrl
      profileUrl
      isVip
      vipGroup {
        id
        name
      }
      validation {
        status
        crmName
        validatedAt
      }
      attributes {
        key
        label
        kind
        type
        value
        editable
      }
      notes(first: $notesFirst, after: $notesAfter) {
        totalCount
        edges {
          cursor
          node {
            ...NoteFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
  ${NOTE_FIELDS}
`;

const CONTACTS_WITH_NOTES = gql`
  query ContactsWithNotes {
    contacts(first: 50) {
      nodes {
        id
        notes {
          totalCount
        }
      }
    }
  }
`;

const NOTE_IDS = gql`
  query NoteIds($id: ID!) {
    contact(id: $id) {
      id
      notes(first: 100) {
        nodes {
          id
        }
      }
    }
  }
`;

const UPDATE_NOTE = gql`
  mutation UpdateNote($input: UpdateNoteInput!) {
    updateNote(input: $input) {
      note {
        ...NoteFields
      }
      userErrors {
        field
        message
        code
      }
    }
  }
  ${NOTE_FIELDS}
`;

const ADD_CONTACT_NOTE = gql`
  mutation AddContactNote($input: AddContactNoteInput!) {
    addContactNote(input: $input) {
      note {
        ...NoteFields
      }
      contact {
        id
      }
      userErrors {
        field
        message
        code
      }
    }
  }
  ${NOTE_FIELDS}
`;

const PAGE = 2;
const NOTES_NEEDED = PAGE * 2; // so that the panel's first page has a next one

/** Every HTTP exchange the client makes: operation name, whether the document was sent,
 * the persisted query hash, and the response status and body. */
function recordingFetch(log) {
  return async (input, init) => {
    const request = JSON.parse(init.body);
    const response = await fetch(input, init);
    const body = await response.clone().json();
    log.push({
      operationName: request.operationName,
      sentDocument: typeof request.query === "string",
      hash: request.extensions?.persistedQuery?.sha256Hash,
      variables: request.variables,
      status: response.status,
      body,
    });
    return response;
  };
}

function makeClient(log) {
  const persisted = new PersistedQueryLink({
    sha256: (document) => createHash("sha256").update(document).digest("hex"),
  });
  const http = new HttpLink({
    uri: endpoint(),
    headers: { authorization: `Bearer ${adminToken()}` },
    fetch: recordingFetch(log),
  });
  return new ApolloClient({
    link: ApolloLink.from([persisted, http]),
    cache: new InMemoryCache({
      typePolicies: { Contact: { fields: { notes: relayStylePagination() } } },
    }),
  });
}

const executions = (log, name) =>
  log.filter((entry) => entry.operationName === name && entry.body.data);

/** Waits for the watched query's next result that satisfies `predicate`. */
function nextResult(observable, predicate) {
  return new Promise((resolve, reject) => {
    const subscription = observable.subscribe({
      next: (result) => {
        if (result.error) {
          subscription.unsubscribe();
          reject(result.error);
        } else if (result.data && predicate(result.data)) {
          queueMicrotask(() => subscription.unsubscribe());
          resolve(result.data);
        }
      },
      error: reject,
    });
  });
}

test("the Contact panel with Apollo Client: cache updates, notes from payloads, fetchMore, APQ", async () => {
  const log = [];
  const client = makeClient(log);

  // A contact with enough notes for two pages.
  const { data: listed } = await client.query({ query: CONTACTS_WITH_NOTES });
  const target = [...listed.contacts.nodes].sort(
    (a, b) => b.notes.totalCount - a.notes.totalCount
  )[0];
  for (let count = target.notes.totalCount; count < NOTES_NEEDED; count += 1) {
    const { data } = await client.mutate({
      mutation: ADD_CONTACT_NOTE,
      variables: { input: { contactId: target.id, body: `Background note ${count + 1}` } },
    });
    assert.deepEqual(data.addContactNote.userErrors, []);
  }

  // 1. The panel, watched as a component would.
  const panel = client.watchQuery({
    query: CONTACT_PANEL,
    variables: { id: target.id, notesFirst: PAGE },
  });
  const first = await nextResult(panel, (data) => data.contact?.notes.edges.length === PAGE);
  assert.equal(first.contact.id, target.id);
  assert.ok(first.contact.notes.totalCount >= NOTES_NEEDED);
  assert.equal(first.contact.notes.pageInfo.hasNextPage, true);
  assert.equal(executions(log, "ContactPanel").length, 1);

  // 2. updateNote: the normalized cache updates the panel, with no refetch.
  const edited = first.contact.notes.edges[0].node;
  const newBody = `${edited.body} (edited in the Apollo test)`;
  const updatedPanel = nextResult(
    panel,
    (data) => data.contact.notes.edges[0].node.body === newBody
  );
  const { data: updated } = await client.mutate({
    mutation: UPDATE_NOTE,
    variables: {
      input: { noteId: edited.id, body: newBody, expectedVersion: edited.version },
    },
  });
  assert.deepEqual(updated.updateNote.userErrors, []);
  assert.equal(updated.updateNote.note.version, edited.version + 1);
  const afterUpdate = await updatedPanel;
  assert.equal(afterUpdate.contact.notes.edges[0].node.version, edited.version + 1);
  assert.equal(executions(log, "ContactPanel").length, 1, "no refetch after updateNote");

  // 3. addContactNote: the new note goes to the top of the list, from the payload.
  const added = `Added from the Apollo test at ${new Date().toISOString()}`;
  const grownPanel = nextResult(panel, (data) => data.contact.notes.edges[0].node.body === added);
  const { data: addedData } = await client.mutate({
    mutation: ADD_CONTACT_NOTE,
    variables: { input: { contactId: target.id, body: added } },
    update(cache, { data }) {
      const { note, contact } = data.addContactNote;
      if (!note) return;
      cache.modify({
        id: cache.identify(contact),
        fields: {
          notes(existing, { toReference }) {
            // Newest first, so the new note leads; keyset cursors of the others still hold.
            const edge = { __typename: "NoteEdge", cursor: "", node: toReference(note) };
            return {
              ...existing,
              edges: [edge, ...existing.edges],
              totalCount: existing.totalCount + 1,
            };
          },
        },
      });
    },
  });
  assert.deepEqual(addedData.addContactNote.userErrors, []);
  const afterAdd = await grownPanel;
  assert.equal(afterAdd.contact.notes.totalCount, first.contact.notes.totalCount + 1);
  assert.equal(afterAdd.contact.notes.edges.length, PAGE + 1);
  assert.equal(executions(log, "ContactPanel").length, 1, "no refetch after addContactNote");

  // 4. fetchMore: the next page is appended after the cursor, in the server's order.
  await panel.fetchMore({
    variables: { notesAfter: first.contact.notes.pageInfo.endCursor },
  });
  const paged = panel.getCurrentResult().data.contact.notes;
  const { data: truth } = await client.query({
    query: NOTE_IDS,
    variables: { id: target.id },
    fetchPolicy: "network-only",
  });
  const serverOrder = truth.contact.notes.nodes.map((node) => node.id);
  const cachedOrder = paged.edges.map((edge) => edge.node.id);
  assert.deepEqual(cachedOrder, serverOrder.slice(0, cachedOrder.length));
  assert.equal(cachedOrder.length, Math.min(serverOrder.length, 2 * PAGE + 1));
  assert.equal(new Set(cachedOrder).size, cachedOrder.length, "no duplicates");
  assert.equal(executions(log, "ContactPanel").length, 2);

  // 5. APQ: the first sight of a document is a miss and a retry with the document; its
  // next use sends only the hash (fetchMore above did: the panel's document was known).
  const [, more] = executions(log, "ContactPanel");
  assert.equal(more.sentDocument, false, "fetchMore sent only the hash");
  assert.match(more.hash, /^[0-9a-f]{64}$/);
  assert.ok(more.variables.notesAfter);
  const probe = gql(`query ApqProbe { probe_${randomUUID().replaceAll("-", "")}: __typename }`);
  const probeStart = log.length;
  await client.query({ query: probe, fetchPolicy: "network-only" });
  await client.query({ query: probe, fetchPolicy: "network-only" });
  const probed = log.slice(probeStart).map((entry) => ({
    sentDocument: entry.sentDocument,
    outcome: entry.body.errors?.[0]?.extensions?.code ?? "data",
  }));
  assert.deepEqual(probed, [
    { sentDocument: false, outcome: "PERSISTED_QUERY_NOT_FOUND" },
    { sentDocument: true, outcome: "data" },
    { sentDocument: false, outcome: "data" },
  ]);
  const failures = log.filter(
    (entry) =>
      entry.status !== 200 &&
      entry.body.errors?.[0]?.extensions?.code !== "PERSISTED_QUERY_NOT_FOUND"
  );
  assert.deepEqual(failures, [], "no request failed other than the APQ misses");

  client.stop();
});
