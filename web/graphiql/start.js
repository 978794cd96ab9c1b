// Starts GraphiQL with the settings the page carries in data- attributes, so that the
// page needs no inline script and works under a strict Content-Security-Policy.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# The Contact panel: the customer, their details, the notes.",
    "# Ctrl-Enter runs it; the token goes in the Headers tab.",
    "query ContactPanel {",
    "  contacts(first: 3) {",
    "    totalCount",
    "    nodes {",
    "      id",
    "      name",
    "      handle",
    "      network",
    "      profileUrl",
    "      isVip",
    "      validation { status crmName }",
    "      attributes { key label value editable }",
    "      notes(first: 3) {",
    "        totalCount",
    "        nodes { id body version author { name } createdAt }",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  var root = document.getElementById("graphiql");
  var token = root.dataset.token || "<paste a token from `python server.py create-agent`>";
  var fetcher = GraphiQL.createFetcher({
    url: new URL(root.dataset.endpoint, window.location.href).toString(),
  });

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: JSON.stringify({ Authorization: "Bearer " + token }, null, 2),
      // A bearer token must not outlive the tab in localStorage.
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
