/*
 * citeqa "Sources" view: the documents the chat answers from and the web sources the server
 * keeps current, to list, add and delete, for whoever holds the server's API key
 * (CITEQA_API_KEY).
 *
 * Only the full page (index.html) loads this script; the embed on other sites never has it.
 * It opens from the page's "Sources" link (href="#sources"), and at /#sources.
 *
 * The key is asked once and kept in sessionStorage: this tab only, until the tab is closed
 * or "Forget the key"; never localStorage, never a cookie. It goes only to this server, as
 * `Authorization: Bearer <key>`, on the calls that need it (GET /sources and the writes).
 *
 * As in widget.js, everything the server sends (titles, addresses, errors, file names)
 * becomes text nodes, never HTML; links are made of http and https addresses only.
 */
(() => {
  "use strict";

  if (!window.customElements || customElements.get("citeqa-sources")) return;

  const HASH = "#sources";
  const KEY_STORAGE = "citeqa-sources:key"; // sessionStorage
  const FILE_SUFFIXES = [".txt", ".md", ".html", ".htm", ".pdf"]; // ingest/loaders.py SUFFIXES
  const MAX_FILE_BYTES = 20_000_000; // ingest/loaders.py MAX_DOCUMENT_BYTES
  const KINDS = [
    ["feed", "Feed (RSS or Atom)"],
    ["sitemap", "Sitemap"],
    ["page", "Page"],
  ];
  const READ_TIMEOUT_MS = 30000;
  // A write may wait behind others (CITEQA_WRITE_WAIT_S, 30 s) and then run for up to
  // CITEQA_WRITE_SYNC_S (20 s) before the server would have made it a job.
  const WRITE_TIMEOUT_MS = 120000;
  const JOB_POLL_MS = 1000;
  const JOB_POLL_FAILURES = 3; // in a row, before the page stops following a job
  const SOURCE_POLL_MS = 1500;
  const SOURCE_POLL_FOR_MS = 180000;
  const JOB_ENDED = new Set(["succeeded", "failed", "cancelled"]);
  const MAX_SHOWN = 500; // documents listed at once; the filter finds the others
  const LEDE = "first sentence; the article states no headline";

  // The server: the folder this script came from (the page's own server).
  const script = document.currentScript;
  const BASE = new URL(".", script?.src || location.href).href.replace(/\/+$/, "");

  // ---------------------------------------------------------------------------------------
  // The DOM helpers of widget.js, loaded first by the page: strings always become text
  // nodes (Element.append), so nothing here can parse data as HTML.
  const { h, hidden, icon, counted, formatDate } = window.citeqaDom;

  // An ISO timestamp in the reader's locale and time zone.
  function formatTime(value) {
    const when = new Date(value);
    if (Number.isNaN(when.getTime())) return String(value);
    return when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // `url` if it is an http or https address (normalised), else null.
  function webAddress(url) {
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  // An address as a link that opens apart from this page; anything but http(s) as text.
  function addressLink(url) {
    const href = webAddress(url);
    if (!href) return h("span", { class: "address" }, String(url));
    return h(
      "a",
      { class: "address", href, target: "_blank", rel: "noopener noreferrer" },
      String(url),
    );
  }

  // Quoted names, the first few of them.
  function names(ids) {
    const quoted = ids.slice(0, 5).map((id) => `“${id}”`);
    if (ids.length > 5) quoted.push(`${ids.length - 5} more`);
    return quoted.join(", ");
  }

  // What a write changed, in words.
  function writeSummary(result) {
    const said = [];
    if (result.added?.length) said.push(`Added ${names(result.added)}.`);
    if (result.updated?.length) said.push(`Replaced ${names(result.updated)}.`);
    if (result.removed?.length) said.push(`Removed ${names(result.removed)}.`);
    if (result.unchanged) said.push(`${counted(result.unchanged, "document")} unchanged.`);
    if (!said.length) said.push("Nothing changed.");
    said.push(`The index holds ${counted(result.documents, "document")}.`);
    return said.join(" ");
  }

  function skippedLines(skipped) {
    return skipped.map((s) => `Skipped ${s.file || "a file without a name"}: ${s.reason}`);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // ---------------------------------------------------------------------------------------
  // Talking to the server.

  class ApiError extends Error {
    constructor(message, status = 0) {
      super(message);
      this.status = status;
    }
  }

  // FastAPI's `detail`: a message, or for invalid input a list of {loc, msg}.
  function detailText(detail) {
    if (typeof detail === "string") return detail;
    if (!Array.isArray(detail)) return "";
    return detail
      .map((d) => {
        const where = Array.isArray(d?.loc) ? d.loc.slice(1).join(".") : "";
        const message = String(d?.msg ?? "invalid").replace(/^Value error, /, "");
        return where ? `${where}: ${message}` : message;
      })
      .join("; ");
  }

  function problem(status, detail) {
    const text = detailText(detail);
    const said = text.charAt(0).toUpperCase() + text.slice(1); // "could not fetch …"
    if (status === 401) return `The server refused the key. ${said || "A valid API key is needed."}`;
    if (status === 403) return said || "Writes are turned off on this server.";
    if (status === 404) return said || "Not found: it may be gone already.";
    if (status === 422) {
      if (Array.isArray(detail)) return `The server could not accept that (${said}).`;
      return said || "The server could not accept that.";
    }
    if (status === 429) return said || "The server is busy. Please try again in a moment.";
    if (status >= 500) return said || "The server ran into a problem. Please try again.";
    return said || `The server refused the request (HTTP ${status}).`;
  }

  function messageOf(error) {
    if (error instanceof ApiError) return error.message;
    console.error("citeqa:", error);
    return "Something went wrong on this page.";
  }

  // `path` on this server only (a job's `url` comes from a reply, and the key goes with it).
  function endpoint(path) {
    if (!/^\/(?![/\\])/.test(path)) throw new ApiError("That is not an address on this server.");
    return BASE + path;
  }

  // {status, data} of a call; ApiError, with the server's words, when it fails.
  async function api(path, { method = "GET", key = null, json, form, timeout } = {}) {
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form; // the browser sets the multipart Content-Type, with its boundary
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout ?? READ_TIMEOUT_MS);
    try {
      let response;
      try {
        response = await fetch(endpoint(path), {
          method,
          headers,
          body,
          signal: controller.signal,
          cache: "no-store",
          credentials: "omit",
        });
      } catch (error) {
        if (error instanceof ApiError) throw error;
        if (controller.signal.aborted) {
          throw new ApiError("The server took too long to answer. Please try again.");
        }
        throw new ApiError(
          "I couldn’t reach the citeqa server. Check that it is running, then try again.",
        );
      }
      const data = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(problem(response.status, data?.detail), response.status);
      if (data === null) throw new ApiError("The server sent a reply this page can’t read.");
      return { status: response.status, data };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------------------------------
  // <citeqa-sources>: the view, in a dialog over the chat.

  class CiteqaSources extends HTMLElement {
    #ui = null;
    #key = null;
    #opener = null;
    #documents = [];
    #uploading = false;
    #adding = false;
    #watching = new Set(); // sources being polled until their first fetch
    #session = 0; // counts keys given and forgotten, so a late reply lands nowhere
    #loads = { documents: 0, sources: 0 }; // which list request is current

    connectedCallback() {
      if (this.shadowRoot) return;
      const root = this.attachShadow({ mode: "open" });
      this.#ui = this.#build();
      root.append(h("style", {}, CSS), this.#ui.dialog);
      for (const link of document.querySelectorAll(`a[href="${HASH}"]`)) {
        link.addEventListener("click", (event) => {
          event.preventDefault();
          this.open(link);
        });
      }
      window.addEventListener("hashchange", () => location.hash === HASH && this.open());
      if (location.hash === HASH) this.open();
    }

    /** Show the view; it asks for the key first unless this tab holds it. */
    open(opener = document.querySelector(`a[href="${HASH}"]`)) {
      const { dialog, title, keyInput } = this.#ui;
      this.#opener = opener;
      // In the address too, so a reload comes back here.
      if (location.hash !== HASH) history.replaceState(history.state, "", HASH);
      if (!dialog.open) dialog.showModal();
      this.#key = this.#key || this.#storedKey();
      if (this.#key) {
        this.#show(true);
        this.#refresh();
        title.focus();
      } else {
        this.#show(false);
        keyInput.focus();
      }
    }

    #closed() {
      if (location.hash === HASH) {
        history.replaceState(history.state, "", location.pathname + location.search);
      }
      // The chat names its corpus ("Searching 5 articles"), which may have changed here.
      for (const chat of document.querySelectorAll("citeqa-chat")) chat.refreshCorpus?.();
      this.#opener?.focus();
    }

    // -- building -------------------------------------------------------------------------

    #build() {
      const title = h("h2", { id: "sources-title", tabindex: "-1" }, "Sources");
      const forget = h(
        "button",
        {
          type: "button",
          class: "pill",
          hidden: true,
          onclick: () => this.#forget("The key is forgotten: this tab no longer holds it."),
        },
        "Forget the key",
      );
      const close = h(
        "button",
        { type: "button", class: "close", onclick: () => dialog.close() },
        icon("close"),
        hidden("Close sources"),
      );
      const unlock = this.#unlockForm();
      const manage = this.#manageView();
      const dialog = h(
        "dialog",
        { class: "sources", "aria-labelledby": "sources-title" },
        h(
          "div",
          { class: "sheet" },
          h(
            "header",
            { class: "head" },
            h(
              "div",
              {},
              title,
              h("p", { class: "meta" }, "The articles the chat answers from, and where they come from."),
            ),
            h("div", { class: "head-actions" }, forget, close),
          ),
          h("div", { class: "body" }, unlock.unlockForm, manage.view),
        ),
      );
      dialog.addEventListener("close", () => this.#closed());
      // A file dropped outside the drop zone must not replace the page with itself.
      dialog.addEventListener("dragover", (event) => event.preventDefault());
      dialog.addEventListener("drop", (event) => event.preventDefault());
      return { dialog, title, forget, ...unlock, ...manage };
    }

    #unlockForm() {
      const keyInput = h("input", {
        id: "api-key",
        type: "password",
        autocomplete: "off",
        spellcheck: "false",
        "aria-describedby": "key-hint",
      });
      const unlockButton = h("button", { type: "submit", class: "primary" }, "Continue");
      const unlockNote = h("p", { class: "status", role: "status", "data-tone": "done" });
      const unlockProblem = h("p", { class: "status", role: "alert", "data-tone": "problem" });
      const form = h(
        "form",
        {
          class: "unlock",
          hidden: true,
          onsubmit: (event) => {
            event.preventDefault();
            this.#unlock();
          },
        },
        unlockNote,
        h(
          "p",
          { id: "key-hint" },
          "Adding and deleting articles needs the server’s API key (CITEQA_API_KEY). ",
          "This tab keeps it until the tab is closed; it is not saved anywhere else.",
        ),
        h("label", { for: "api-key" }, "API key"),
        h("div", { class: "row" }, keyInput, unlockButton),
        unlockProblem,
      );
      return { unlockForm: form, keyInput, unlockButton, unlockNote, unlockProblem };
    }

    #manageView() {
      const upload = this.#uploadCard();
      const adder = this.#sourceForm();
      const sourceCount = h("span", { class: "count" });
      const sourceList = h("ul", { class: "items", "aria-labelledby": "sources-heading" });
      const sourceEmpty = h("p", { class: "empty" });
      const sourceProblem = h("p", { class: "status", role: "alert", "data-tone": "problem" });
      const refresh = h(
        "button",
        { type: "button", class: "pill", onclick: () => this.#refresh() },
        "Refresh",
        hidden(" the lists"),
      );
      const docCount = h("span", { class: "count" });
      const docList = h("ul", { class: "items", "aria-labelledby": "documents-heading" });
      const docEmpty = h("p", { class: "empty" });
      const docStatus = h("p", { class: "status", role: "status", tabindex: "-1" });
      const filter = h("input", {
        type: "search",
        class: "filter",
        placeholder: "Filter",
        "aria-label": "Filter the documents by title, source, address or id",
        oninput: () => this.#renderDocuments(),
      });
      const view = h(
        "div",
        { class: "manage", hidden: true },
        h("div", { class: "adders" }, upload.card, adder.sourceForm),
        h(
          "section",
          {},
          h(
            "div",
            { class: "section-head" },
            h("h3", { id: "sources-heading" }, "Web sources ", sourceCount),
            refresh,
          ),
          sourceProblem,
          sourceList,
          sourceEmpty,
        ),
        h(
          "section",
          {},
          h(
            "div",
            { class: "section-head" },
            h("h3", { id: "documents-heading" }, "Documents ", docCount),
            filter,
          ),
          docStatus,
          docList,
          docEmpty,
        ),
      );
      return {
        view,
        ...upload,
        ...adder,
        sourceCount,
        sourceList,
        sourceEmpty,
        sourceProblem,
        docCount,
        docList,
        docEmpty,
        docStatus,
        filter,
      };
    }

    #uploadCard() {
      // Not in the tab order: the button opens it.
      const fileInput = h("input", {
        type: "file",
        multiple: true,
        accept: FILE_SUFFIXES.join(","),
        class: "visually-hidden",
        tabindex: "-1",
        "aria-hidden": "true",
        onchange: () => {
          this.#upload(Array.from(fileInput.files));
          fileInput.value = "";
        },
      });
      const choose = h(
        "button",
        { type: "button", class: "pill", onclick: () => fileInput.click() },
        "Choose files",
      );
      const uploadStatus = h("p", { class: "status", role: "status" });
      const zone = h(
        "div",
        { class: "drop" },
        h("p", {}, "Drop files here, or ", choose),
        h(
          "p",
          { class: "hint" },
          "Text (.txt, .md), web pages (.html) and PDFs, up to 20 MB each. ",
          "A file replaces the document of the same name.",
        ),
        fileInput,
      );
      zone.addEventListener("dragenter", (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
      zone.addEventListener("dragover", (event) => {
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
        zone.classList.add("over");
      });
      zone.addEventListener("dragleave", (event) => {
        if (!zone.contains(event.relatedTarget)) zone.classList.remove("over");
      });
      zone.addEventListener("drop", (event) => {
        event.preventDefault();
        zone.classList.remove("over");
        this.#upload(Array.from(event.dataTransfer?.files ?? []));
      });
      const card = h(
        "div",
        { class: "card" },
        h("h3", {}, "Add files"),
        zone,
        uploadStatus,
      );
      return { card, fileInput, choose, uploadStatus };
    }

    #sourceForm() {
      const sourceUrl = h("input", {
        id: "source-url",
        type: "url",
        inputmode: "url",
        autocomplete: "off",
        spellcheck: "false",
        placeholder: "https://example.org/feed.xml",
      });
      const sourceKind = h(
        "select",
        { id: "source-kind" },
        KINDS.map(([value, label]) => h("option", { value }, label)),
      );
      const addButton = h("button", { type: "submit", class: "primary" }, "Add");
      const sourceStatus = h("p", { class: "status", role: "status" });
      const form = h(
        "form",
        {
          class: "card",
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            this.#addSource();
          },
        },
        h("h3", {}, "Add a web address"),
        h(
          "p",
          { class: "hint" },
          "A feed or a sitemap brings in each article it lists, now and at every refresh.",
        ),
        h(
          "div",
          { class: "fields" },
          h("label", { for: "source-url" }, "Address"),
          sourceUrl,
          h("label", { for: "source-kind" }, "Kind"),
          h("div", { class: "row" }, sourceKind, addButton),
        ),
        sourceStatus,
      );
      return { sourceForm: form, sourceUrl, sourceKind, addButton, sourceStatus };
    }

    // -- the key --------------------------------------------------------------------------

    #storedKey() {
      try {
        return sessionStorage.getItem(KEY_STORAGE) || null;
      } catch {
        return null;
      }
    }

    // Asking for the key (false) or showing the lists (true).
    #show(unlocked) {
      const { unlockForm, view, forget, unlockProblem } = this.#ui;
      unlockForm.hidden = unlocked;
      view.hidden = !unlocked;
      forget.hidden = !unlocked;
      if (unlocked) unlockProblem.textContent = "";
    }

    async #unlock() {
      const { keyInput, unlockButton, unlockNote, unlockProblem } = this.#ui;
      const key = keyInput.value.trim();
      unlockNote.textContent = "";
      if (!key) {
        unlockProblem.textContent = "Enter the API key.";
        keyInput.focus();
        return;
      }
      if (unlockButton.getAttribute("aria-disabled") === "true") return;
      unlockButton.setAttribute("aria-disabled", "true");
      unlockProblem.textContent = "";
      unlockNote.textContent = "Checking the key…";
      const session = ++this.#session;
      try {
        // GET /sources needs the key: a cheap way to check it.
        const { data } = await api("/sources", { key });
        if (session !== this.#session) return;
        this.#key = key;
        try {
          sessionStorage.setItem(KEY_STORAGE, key);
        } catch {
          // Storage off: the key still serves this page, until it is reloaded.
        }
        keyInput.value = "";
        unlockNote.textContent = "";
        this.#show(true);
        this.#renderSources(data);
        this.#loadDocuments();
        this.#ui.title.focus();
      } catch (error) {
        if (session !== this.#session) return;
        unlockNote.textContent = "";
        unlockProblem.textContent = messageOf(error);
        keyInput.select();
        keyInput.focus();
      } finally {
        unlockButton.removeAttribute("aria-disabled");
      }
    }

    // Drop the key (asked for again next time); `message` says why, `refused` if the
    // server refused it.
    #forget(message, refused = false) {
      const { unlockNote, unlockProblem, keyInput, dialog } = this.#ui;
      this.#key = null;
      this.#session++;
      this.#watching.clear();
      try {
        sessionStorage.removeItem(KEY_STORAGE);
      } catch {
        // Nothing was stored.
      }
      this.#show(false);
      unlockNote.textContent = refused ? "" : message;
      unlockProblem.textContent = refused ? message : "";
      if (dialog.open) keyInput.focus();
    }

    // A call with the key; a 401 (a key changed on the server) asks for the key again.
    async #call(path, options = {}) {
      const session = this.#session;
      try {
        return await api(path, { ...options, key: this.#key });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401 && session === this.#session) {
          this.#forget(error.message, true);
        }
        throw error;
      }
    }

    // -- the lists ------------------------------------------------------------------------

    #refresh() {
      this.#loadSources();
      this.#loadDocuments();
    }

    async #loadSources() {
      const load = ++this.#loads.sources;
      try {
        const { data } = await this.#call("/sources");
        if (load !== this.#loads.sources) return data;
        this.#ui.sourceProblem.textContent = "";
        this.#renderSources(data);
        return data;
      } catch (error) {
        if (load === this.#loads.sources) this.#ui.sourceProblem.textContent = messageOf(error);
        return null;
      }
    }

    async #loadDocuments() {
      const load = ++this.#loads.documents;
      try {
        const { data } = await api("/documents");
        if (load !== this.#loads.documents) return;
        this.#documents = Array.isArray(data) ? data : [];
        this.#renderDocuments();
      } catch (error) {
        if (load !== this.#loads.documents) return;
        this.#documents = [];
        this.#renderDocuments(messageOf(error));
      }
    }

    #renderSources(sources) {
      const { sourceCount, sourceList, sourceEmpty } = this.#ui;
      const list = Array.isArray(sources) ? sources : [];
      sourceCount.textContent = `(${list.length})`;
      sourceList.replaceChildren(...list.map((s) => this.#sourceItem(s)));
      sourceEmpty.textContent = list.length
        ? ""
        : "None yet. A feed, sitemap or page added above is fetched now and kept current.";
    }

    #sourceItem(source) {
      const fetching = this.#watching.has(source.url);
      const state = source.last_fetch
        ? `Last fetch ${formatTime(source.last_fetch)}`
        : fetching
          ? "Fetching…"
          : "Not fetched yet";
      const by = source.added_by === "api" ? "added here or over the API" : "added on the command line";
      return h(
        "li",
        { class: "item" },
        h(
          "div",
          { class: "item-main" },
          h("p", { class: "item-title" }, h("span", { class: "kind" }, source.kind), addressLink(source.url)),
          h("p", { class: "item-meta" }, [state, counted(source.documents, "document"), by].join(" · ")),
          source.last_error ? h("p", { class: "item-error" }, `Last error: ${source.last_error}`) : null,
        ),
        this.#confirming({
          label: "Remove",
          what: source.url,
          question: "Stop fetching it? Its documents stay.",
          yes: "Remove",
          act: () => this.#removeSource(source),
        }),
      );
    }

    #renderDocuments(failure = "") {
      const { docCount, docList, docEmpty, filter } = this.#ui;
      const all = this.#documents;
      const needle = filter.value.trim().toLowerCase();
      const matching = needle
        ? all.filter((d) =>
            [d.title, d.source, d.url, d.doc_id, d.file].some((v) =>
              String(v ?? "").toLowerCase().includes(needle),
            ),
          )
        : all;
      const shown = matching.slice(0, MAX_SHOWN);
      docCount.textContent = needle ? `(${matching.length} of ${all.length})` : `(${all.length})`;
      docList.replaceChildren(...shown.map((d) => this.#documentItem(d)));
      let empty = "";
      if (failure) empty = failure;
      else if (!all.length) empty = "No documents yet: add files or a web address above.";
      else if (!matching.length) empty = "No document matches the filter.";
      else if (matching.length > shown.length) {
        empty = `Showing the first ${shown.length.toLocaleString()}: filter to find the others.`;
      }
      docEmpty.textContent = empty;
      docEmpty.dataset.tone = failure ? "problem" : "";
    }

    #documentItem(doc) {
      const name = doc.title || doc.doc_id;
      let title;
      if (doc.title && doc.title_is_lede) {
        title = h("em", { class: "lede", title: LEDE }, doc.title, hidden(` (${LEDE})`));
      } else {
        title = doc.title || h("span", { class: "untitled" }, "Untitled");
      }
      const meta = [
        doc.source,
        formatDate(doc.date),
        doc.pages?.length ? counted(doc.pages.length, "page") : null,
        doc.fetched_at ? `fetched ${formatTime(doc.fetched_at)}` : null,
      ].filter(Boolean);
      // A file's name says which one it is; a fetched page has its address instead.
      const id = doc.url ? null : h("span", { class: "id" }, doc.file || doc.doc_id);
      return h(
        "li",
        { class: "item", "data-doc-id": doc.doc_id },
        h(
          "div",
          { class: "item-main" },
          h("p", { class: "item-title" }, title),
          h("p", { class: "item-meta" }, meta.join(" · "), meta.length && id ? " · " : "", id),
          doc.url ? h("p", { class: "item-url" }, addressLink(doc.url)) : null,
        ),
        this.#confirming({
          label: "Delete",
          what: name,
          question: "Delete it from the index?",
          yes: "Delete",
          act: () => this.#deleteDocument(doc, name),
        }),
      );
    }

    // A button that asks before it acts: "label", then the question with "yes" and Cancel
    // in its place. `what` names the item for screen readers.
    #confirming({ label, what, question, yes, act }) {
      const box = h("div", { class: "item-actions" });
      const first = h(
        "button",
        { type: "button", class: "pill", onclick: () => ask() },
        label,
        hidden(` ${what}`),
      );
      const back = () => {
        box.replaceChildren(first);
        first.focus();
      };
      const ask = () => {
        const confirm = h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: () => {
              if (confirm.getAttribute("aria-disabled") === "true") return;
              confirm.setAttribute("aria-disabled", "true");
              act();
            },
          },
          yes,
          hidden(` ${what}`),
        );
        const cancel = h("button", { type: "button", class: "pill", onclick: back }, "Cancel");
        box.replaceChildren(h("span", { class: "question" }, question), confirm, cancel);
        cancel.focus();
      };
      box.addEventListener("keydown", (event) => {
        // Escape takes the question back, without closing the whole view.
        if (event.key === "Escape" && !box.contains(first)) {
          event.preventDefault();
          event.stopPropagation();
          back();
        }
      });
      box.append(first);
      return box;
    }

    // -- writes ---------------------------------------------------------------------------

    async #deleteDocument(doc, name) {
      const { docStatus } = this.#ui;
      this.#report(docStatus, [`Deleting “${name}”…`], "working");
      try {
        const { data } = await this.#call(`/documents/${encodeURIComponent(doc.doc_id)}`, {
          method: "DELETE",
          timeout: WRITE_TIMEOUT_MS,
        });
        const left = `The index holds ${counted(data.documents, "document")}.`;
        this.#report(docStatus, [`Deleted “${name}”. ${left}`], "done");
      } catch (error) {
        this.#report(docStatus, [messageOf(error)], "problem");
      }
      await this.#loadDocuments();
      if (!this.#ui.view.hidden) docStatus.focus(); // its row, and the button, are gone
    }

    async #removeSource(source) {
      const { sourceProblem } = this.#ui;
      try {
        await this.#call(`/sources?url=${encodeURIComponent(source.url)}`, { method: "DELETE" });
        this.#watching.delete(source.url);
      } catch (error) {
        sourceProblem.textContent = messageOf(error);
      }
      await this.#loadSources();
      if (!this.#ui.view.hidden) this.#ui.title.focus();
    }

    async #upload(files) {
      const { uploadStatus, choose } = this.#ui;
      if (!files.length) return;
      if (this.#uploading) {
        this.#report(uploadStatus, ["One upload at a time: wait for this one to end."], "problem");
        return;
      }
      const refused = [];
      const sending = [];
      for (const file of files) {
        const dot = file.name.lastIndexOf(".");
        const suffix = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
        if (!FILE_SUFFIXES.includes(suffix)) {
          refused.push({ file: file.name, reason: "not a .txt, .md, .html or .pdf file" });
        } else if (file.size > MAX_FILE_BYTES) {
          refused.push({ file: file.name, reason: "larger than 20 MB" });
        } else {
          sending.push(file);
        }
      }
      if (!sending.length) {
        this.#report(uploadStatus, ["Nothing was sent.", ...skippedLines(refused)], "problem");
        return;
      }
      const form = new FormData();
      for (const file of sending) form.append("files", file, file.name);
      this.#uploading = true;
      choose.setAttribute("aria-disabled", "true");
      this.#report(uploadStatus, [`Sending ${counted(sending.length, "file")}…`], "working");
      const session = this.#session;
      try {
        const { status, data } = await this.#call("/files", {
          method: "POST",
          form,
          timeout: WRITE_TIMEOUT_MS,
        });
        const result = status === 202 ? await this.#followJob(data, uploadStatus) : data;
        if (session !== this.#session) return;
        const skipped = [...refused, ...(data.skipped ?? [])];
        this.#report(uploadStatus, [writeSummary(result), ...skippedLines(skipped)], "done");
      } catch (error) {
        if (session !== this.#session) return;
        this.#report(uploadStatus, [messageOf(error), ...skippedLines(refused)], "problem");
      } finally {
        this.#uploading = false;
        choose.removeAttribute("aria-disabled");
        this.#loadDocuments();
      }
    }

    // A write the server made a job (202): poll its `url` until it ends; what it changed.
    async #followJob(job, status) {
      const url = String(job?.url ?? "");
      if (!/^\/jobs\/[^/?#\\]+$/.test(url)) {
        throw new ApiError("The server made this a job this page can’t follow.");
      }
      let current = job;
      let failures = 0;
      while (!JOB_ENDED.has(current.state)) {
        const progress = current.total ? ` ${current.done} of ${current.total} documents written.` : "";
        this.#report(status, [`Working…${progress}`], "working");
        await sleep(JOB_POLL_MS);
        try {
          current = (await this.#call(url)).data;
          failures = 0;
        } catch (error) {
          if (error.status === 401 || ++failures >= JOB_POLL_FAILURES) throw error;
        }
      }
      if (current.state === "succeeded" && current.result) return current.result;
      if (current.state === "cancelled") throw new ApiError("The write was cancelled; nothing changed.");
      throw new ApiError(`The write failed; nothing changed. ${current.error || ""}`.trim());
    }

    async #addSource() {
      const { sourceUrl, sourceKind, addButton, sourceStatus } = this.#ui;
      const url = sourceUrl.value.trim();
      if (this.#adding) return;
      if (!url || !webAddress(url)) {
        const said = url
          ? "Only http and https addresses can be fetched."
          : "Enter the address of a feed, a sitemap or a page.";
        this.#report(sourceStatus, [said], "problem");
        sourceUrl.focus();
        return;
      }
      this.#adding = true;
      addButton.setAttribute("aria-disabled", "true");
      this.#report(sourceStatus, ["Adding…"], "working");
      try {
        const { data } = await this.#call("/sources", {
          method: "POST",
          json: { url, kind: sourceKind.value },
        });
        sourceUrl.value = "";
        this.#report(sourceStatus, [`Added ${data.url}: fetching it…`], "working");
        this.#watch(data, sourceStatus);
      } catch (error) {
        this.#report(sourceStatus, [messageOf(error)], "problem");
        sourceUrl.focus();
      } finally {
        this.#adding = false;
        addButton.removeAttribute("aria-disabled");
      }
    }

    // The server fetches a new source in the background: poll GET /sources until its fetch
    // is recorded (after its documents are written), then list the documents again.
    async #watch(added, status) {
      const session = this.#session;
      this.#watching.add(added.url);
      const started = Date.now();
      try {
        while (Date.now() - started < SOURCE_POLL_FOR_MS) {
          const sources = await this.#loadSources();
          if (session !== this.#session || !this.#watching.has(added.url)) return;
          const now = sources?.find((s) => s.url === added.url);
          if (sources && !now) return; // removed meanwhile
          const fetched = now && now.last_fetch && now.last_fetch !== added.last_fetch;
          const failed = now && now.last_error && now.last_error !== added.last_error;
          if (fetched || failed) {
            this.#watching.delete(added.url);
            this.#renderSources(sources);
            await this.#loadDocuments();
            const said = now.last_error
              ? `Fetched ${now.url}, with a problem: ${now.last_error}`
              : `Fetched ${now.url}: ${counted(now.documents, "document")}.`;
            this.#report(status, [said], now.last_error ? "problem" : "done");
            return;
          }
          await sleep(SOURCE_POLL_MS);
        }
        this.#report(status, ["Still fetching in the background: Refresh to see how far it got."], "working");
      } finally {
        if (session === this.#session) this.#watching.delete(added.url);
      }
    }

    // Lines in a status paragraph, each a text node; `tone`: working, done or problem.
    #report(el, lines, tone) {
      const nodes = lines.filter(Boolean).flatMap((line, i) => (i ? [h("br"), line] : [line]));
      el.replaceChildren(...nodes);
      el.dataset.tone = tone;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Styles: the chat's (widget.js), so the view looks like the page it opens from.

  const CSS = `
    :host {
      all: initial; display: contents;
      --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d5dbe1; --soft: #f1f4f7;
      --accent: #1d5bc7; --accent-fg: #ffffff;
      --bad: #b3261e; --bad-bg: #fdeceb; --shadow: 0 0.5em 2em rgb(0 0 0 / 0.18);
      color-scheme: light dark;
    }
    @media (prefers-color-scheme: dark) {
      :host {
        --bg: #14171b; --fg: #e7eaee; --muted: #a2acb7; --line: #343b43; --soft: #1e2329;
        --accent: #8ab4ff; --accent-fg: #0d1b33;
        --bad: #ffb4ab; --bad-bg: #3b1714; --shadow: 0 0.5em 2em rgb(0 0 0 / 0.6);
      }
    }
    *, *::before, *::after { box-sizing: border-box; }
    [hidden] { display: none !important; }
    button, input, select { font: inherit; color: inherit; }
    button { cursor: pointer; }
    :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    svg { width: 1.25em; height: 1.25em; fill: currentColor; display: block; }
    .visually-hidden {
      position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
      overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
    }
    p { margin: 0; }
    a { color: var(--accent); text-underline-offset: 0.15em; }

    dialog.sources {
      padding: 0; border: 0; margin: 0 0 0 auto; width: min(52em, 100vw); max-width: 100vw;
      height: 100vh; height: 100dvh; max-height: none; background: var(--bg); color: var(--fg);
      box-shadow: var(--shadow);
      font: 400 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      -webkit-text-size-adjust: 100%;
    }
    dialog.sources::backdrop { background: rgb(0 0 0 / 0.4); }
    .sheet { height: 100%; display: flex; flex-direction: column; }
    .head {
      display: flex; gap: 1em; align-items: flex-start; justify-content: space-between;
      padding: 1em 1.25em 0.75em; border-bottom: 1px solid var(--line);
    }
    .head h2 { margin: 0; font-size: 1.15em; line-height: 1.3; }
    .head h2:focus { outline: none; }
    .meta { margin-top: 0.2em; color: var(--muted); font-size: 0.85em; }
    .head-actions { flex: none; display: flex; gap: 0.5em; align-items: center; }
    .close {
      flex: none; border: 0; background: var(--soft); border-radius: 50%; width: 2.2em;
      height: 2.2em; display: grid; place-items: center;
    }
    .body { flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 1.25em 1.25em 3em; }
    .body:focus-visible { outline-offset: -3px; }

    .pill {
      border: 1px solid var(--line); background: var(--bg); border-radius: 1.2em;
      padding: 0.2em 0.8em; font-size: 0.85em; white-space: nowrap;
    }
    .pill:hover { border-color: var(--accent); }
    .primary {
      flex: none; border: 0; border-radius: 1.2em; padding: 0.45em 1.1em;
      background: var(--accent); color: var(--accent-fg);
    }
    .danger {
      border: 1px solid var(--bad); background: var(--bad); color: var(--bg);
      border-radius: 1.2em; padding: 0.2em 0.8em; font-size: 0.85em;
    }
    [aria-disabled="true"] { opacity: 0.5; cursor: progress; }
    input, select {
      min-width: 0; border: 1px solid var(--line); border-radius: 0.6em; padding: 0.45em 0.7em;
      background: var(--bg);
    }
    input:focus-visible, select:focus-visible {
      outline: none; border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent);
    }
    label { font-size: 0.9em; font-weight: 600; }
    .row { display: flex; gap: 0.5em; align-items: center; }
    .row input { flex: 1; }
    .hint { color: var(--muted); font-size: 0.85em; }

    .status { font-size: 0.9em; overflow-wrap: anywhere; }
    .status:empty { display: none; }
    .status[data-tone="working"] { color: var(--muted); }
    .status[data-tone="problem"], .empty[data-tone="problem"] {
      color: var(--bad); background: var(--bad-bg); padding: 0.4em 0.7em; border-radius: 0.5em;
    }
    .status:focus { outline: none; }

    .unlock { max-width: 30em; display: flex; flex-direction: column; gap: 0.6em; }
    .unlock .row input { flex: 1; }

    .adders {
      display: grid; grid-template-columns: repeat(auto-fit, minmax(17em, 1fr)); gap: 1em;
      margin-bottom: 1.75em;
    }
    .card {
      background: var(--soft); border-radius: 1.1em; padding: 0.9em 1em;
      display: flex; flex-direction: column; gap: 0.6em; min-width: 0;
    }
    h3 { margin: 0; font-size: 1em; font-weight: 650; }
    .drop {
      border: 2px dashed var(--line); border-radius: 0.8em; background: var(--bg);
      padding: 1em; text-align: center; display: flex; flex-direction: column; gap: 0.3em;
    }
    .drop.over { border-color: var(--accent); border-style: solid; }
    .fields { display: flex; flex-direction: column; gap: 0.3em; }
    .fields .row select { flex: 1; }

    section { margin-bottom: 1.75em; }
    .section-head {
      display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
      gap: 0.5em 1em; margin-bottom: 0.5em;
    }
    .count { color: var(--muted); font-weight: 400; }
    .filter { width: 14em; max-width: 100%; padding: 0.25em 0.7em; font-size: 0.9em; }
    .items { list-style: none; margin: 0; padding: 0; border-top: 1px solid var(--line); }
    .items:empty { display: none; }
    .item {
      display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: flex-start;
      justify-content: space-between; padding: 0.65em 0; border-bottom: 1px solid var(--line);
    }
    .item-main { flex: 1 1 18em; min-width: 0; }
    .item-title { font-weight: 600; overflow-wrap: anywhere; }
    .item-title .lede { font-weight: 400; }
    .item-title .untitled { color: var(--muted); font-weight: 400; font-style: italic; }
    .item-meta { margin-top: 0.1em; font-size: 0.85em; color: var(--muted); overflow-wrap: anywhere; }
    .id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.95em; }
    .item-url {
      margin-top: 0.1em; font-size: 0.85em; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis;
    }
    .item-error { margin-top: 0.2em; font-size: 0.85em; color: var(--bad); overflow-wrap: anywhere; }
    .kind {
      display: inline-block; margin-right: 0.5em; padding: 0 0.45em; border: 1px solid var(--line);
      border-radius: 0.4em; font-size: 0.75em; font-weight: 600; letter-spacing: 0.04em;
      text-transform: uppercase; color: var(--muted); vertical-align: 0.1em;
    }
    .item-title .address { font-weight: 400; }
    .item-actions {
      flex: none; display: flex; flex-wrap: wrap; gap: 0.4em; align-items: center;
      justify-content: flex-end; margin-left: auto;
    }
    .question { font-size: 0.85em; }
    .empty { color: var(--muted); font-size: 0.9em; margin-top: 0.5em; }
    .empty:empty { display: none; }

    @media (max-width: 30em) {
      .head, .body { padding-left: 0.8em; padding-right: 0.8em; }
      .filter { width: 100%; }
    }
  `;

  customElements.define("citeqa-sources", CiteqaSources);
})();
