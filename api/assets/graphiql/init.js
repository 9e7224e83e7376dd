// Starts GraphiQL (index.html). A file rather than an inline <script> so the
// page works under `script-src 'self'`. Needs the React, ReactDOM and
// GraphiQL globals that the UMD bundles loaded before it define.
(function () {
  "use strict";

  // Queries and mutations: POST /graphql on this origin.
  var url = new URL("/graphql", window.location.href);
  // Subscriptions: graphql-transport-ws on /graphql/ws, ws:// or wss:// as
  // the page was served. The graphql-ws client is bundled in graphiql.min.js;
  // the headers from the headers editor (e.g. {"Authorization": "Bearer vts_…"})
  // are sent as the connection_init payload.
  var subscriptionUrl = new URL("/graphql/ws", window.location.href);
  subscriptionUrl.protocol = subscriptionUrl.protocol === "https:" ? "wss:" : "ws:";

  var fetchGraphQL = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  // A fetcher GraphiQL has not seen: giving it one makes it load the schema
  // again, with the headers of the headers editor.
  function newFetcher() {
    return function (params, opts) {
      return fetchGraphQL(params, opts);
    };
  }

  // The Authorization header in the headers editor's text: a string, null
  // when there is none, undefined while the text is not a JSON object.
  function authorization(text) {
    var headers;
    try {
      headers = JSON.parse(text && text.trim() ? text : "{}");
    } catch (e) {
      return undefined;
    }
    if (!headers || typeof headers !== "object" || Array.isArray(headers)) return undefined;
    for (var name in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, name) && name.toLowerCase() === "authorization") {
        return String(headers[name]);
      }
    }
    return null;
  }

  // What GraphiQL keeps in localStorage, without any headers: besides the
  // headers editor (see shouldPersistHeaders), its query history stores the
  // headers each operation ran with — a bearer token left on the machine's
  // disk after the tab is closed. Every stored JSON value loses its
  // "headers" fields on the way in.
  function withoutHeaders(value) {
    if (Array.isArray(value)) return value.map(withoutHeaders);
    if (!value || typeof value !== "object") return value;
    var out = {};
    for (var name in value) {
      if (Object.prototype.hasOwnProperty.call(value, name) && name !== "headers") {
        out[name] = withoutHeaders(value[name]);
      }
    }
    return out;
  }
  var storage = {
    getItem: function (key) {
      return window.localStorage.getItem(key);
    },
    setItem: function (key, value) {
      if (/headers$/i.test(key)) return;
      var kept = value;
      try {
        kept = JSON.stringify(withoutHeaders(JSON.parse(value)));
      } catch (e) {
        kept = value;
      }
      window.localStorage.setItem(key, kept);
    },
    removeItem: function (key) {
      window.localStorage.removeItem(key);
    },
    clear: function () {
      window.localStorage.clear();
    },
    get length() {
      return window.localStorage.length;
    },
  };

  function App() {
    var state = React.useState(newFetcher);
    var fetcher = state[0];
    var setFetcher = state[1];
    // The Authorization the schema was last loaded with (none at first).
    var loadedWith = React.useRef(null);
    var timer = React.useRef(0);

    // The schema is shown to signed-in callers only: when a token is pasted
    // into (or removed from) the headers editor, load it again.
    var onEditHeaders = React.useCallback(function (text) {
      window.clearTimeout(timer.current);
      var value = authorization(text);
      if (value === undefined || value === loadedWith.current) return;
      timer.current = window.setTimeout(function () {
        loadedWith.current = value;
        setFetcher(function () {
          return newFetcher();
        });
      }, 400);
    }, []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      onEditHeaders: onEditHeaders,
      isHeadersEditorEnabled: true,
      // Headers (the bearer token) are not kept in localStorage, where a
      // token would stay on the machine's disk after the tab is closed (and
      // GraphiQL clears headers an earlier page persisted). Paste it again
      // after a reload.
      shouldPersistHeaders: false,
      storage: storage,
      // Open the editor tools on the headers tab: the schema is only shown
      // to callers that send a token there.
      defaultEditorToolsVisibility: "headers",
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
