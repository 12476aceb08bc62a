/*
 * citeqa chat widget: one script for the full page and for embedding on other sites.
 *
 *   Full page (GET /):  <citeqa-chat></citeqa-chat> <script src="widget.js"></script>
 *   Another site:       <script src="http://HOST/widget.js" data-citeqa-url="http://HOST"></script>
 *                       adds a floating chat button; the server must allow that site's origin
 *                       in CITEQA_CORS_ORIGINS (a JSON list).
 *
 * Options, on the script tag (they apply to every chat on the page):
 *   data-citeqa-url          where the citeqa server is; default: where widget.js came from.
 *   data-citeqa-suggestions  JSON list of example questions for an empty chat; "[]" for none.
 * or, per element, the attributes api-url and suggestions on <citeqa-chat>.
 *
 * Everything renders inside shadow roots, so the host page's CSS cannot reach in. Every piece
 * of data (questions, answers, article text, titles) becomes a text node, never HTML: a
 * passage containing <script> or <img onerror> shows as those characters and runs nothing.
 *
 * The server's offsets are Python string indices, which count code points; JS strings count
 * UTF-16 units. Text is therefore sliced as Array.from(text), an array of code points, so
 * highlights stay exact even with characters outside the Basic Multilingual Plane.
 */
(() => {
  "use strict";

  // A second copy of the script on the same page: the first one already serves it.
  if (!window.customElements || customElements.get("citeqa-chat")) return;

  const MAX_QUESTION_CHARS = 1000; // schemas.MAX_QUESTION_CHARS
  const MAX_ANSWER_CHARS = 5000; // schemas.MAX_ANSWER_CHARS
  const HISTORY_TURNS = 3; // followup.resolve only reads the last three turns
  const REQUEST_TIMEOUT_MS = 60000;
  const COUNTER_FROM = 900; // show the length counter once a question gets near the limit
  // A passage longer than this shows the words around the answer, and expands in place.
  // The sample corpus's sentences (spaCy, as chunked): median 135 characters, 95% under
  // 290, 8 of 283 over 320; so only the unusually long ones are cut.
  const LONG_PASSAGE = 320;
  const EXCERPT_CONTEXT = 120; // code points kept on each side of the answer in an excerpt
  const STORAGE_PREFIX = "citeqa-chat:"; // sessionStorage key, per server
  // An answer's score is a calibrated probability of being exactly right, shown in words
  // on bands ({from, words, unsure}, highest first). They are the command line's too: the
  // server writes service/qa/sureness.py's BANDS here when it serves this file
  // (service/http/routes/page.py).
  const SURENESS = __CITEQA_SURENESS__;

  // For the shipped sample articles, each one the shipped reader answers right (checked by
  // tests/http/test_widget.py); a site with its own corpus passes its own.
  const SAMPLE_SUGGESTIONS = [
    "How many rockets were fired at the base in Kirkuk?",
    "Who ordered the killing of Qasem Soleimani?",
    "Who is the secretary of state?",
    "What time did the missiles hit the vehicles?",
  ];

  const script = document.currentScript;
  const defaults = {
    apiUrl: trimSlash(script?.dataset.citeqaUrl || originOf(script?.src) || location.origin),
    suggestions: parseList(script?.dataset.citeqaSuggestions) ?? SAMPLE_SUGGESTIONS,
  };

  function percent(score) {
    return `${Math.round(100 * score)}%`;
  }

  function originOf(src) {
    try {
      return src ? new URL(src, location.href).origin : "";
    } catch {
      return "";
    }
  }

  function trimSlash(url) {
    return url.replace(/\/+$/, "");
  }

  function parseList(json) {
    if (json == null) return null;
    try {
      const list = JSON.parse(json);
      return Array.isArray(list) ? list.map(String) : null;
    } catch {
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------
  // DOM building. Strings always become text nodes (Element.append), so nothing here can
  // parse data as HTML.

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value == null) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    el.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
    return el;
  }

  const ICONS = {
    send: "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z",
    chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
    close:
      "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z",
  };

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function hidden(text) {
    return h("span", { class: "visually-hidden" }, text);
  }

  function counted(n, word) {
    return `${Number(n || 0).toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
  }

  // "2020-01-03" -> "Jan 3, 2020" in the reader's locale; anything else is shown as sent.
  function formatDate(value) {
    const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    if (!parts) return value || "";
    const day = new Date(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3]));
    return day.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  function sourceLine(item) {
    return [item.source, formatDate(item.date)].filter(Boolean).join(" · ");
  }

  // ---------------------------------------------------------------------------------------
  // Highlighting by code point offsets.

  // `chars` is Array.from(text); `range` is {start, end} in code points, or null.
  function highlighted(chars, range, className) {
    const valid = range && range.start >= 0 && range.start < range.end && range.end <= chars.length;
    if (!valid) return [chars.join("")];
    return [
      chars.slice(0, range.start).join(""),
      h("mark", { class: className }, chars.slice(range.start, range.end).join("")),
      chars.slice(range.end).join(""),
    ];
  }

  // The words of `chars` around `range` (all of them from the start when there is none),
  // cut at spaces: {from, to} in code points.
  function excerptOf(chars, range) {
    const start = range ? range.start : 0;
    const end = range ? range.end : 0;
    let from = Math.max(0, start - EXCERPT_CONTEXT);
    let to = Math.min(chars.length, end + EXCERPT_CONTEXT + (range ? 0 : EXCERPT_CONTEXT));
    while (from > 0 && from < start && chars[from - 1] !== " ") from++;
    while (to < chars.length && to > end && chars[to] !== " ") to--;
    return { from, to };
  }

  // A random UUID (v4), also where crypto.randomUUID is missing (pages served over http).
  function newId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
    return [...parts, hex.slice(20)].join("-");
  }

  // The words selected in `body`, which shows `text` (a document's text, exactly), as a
  // span in the server's units: {start, end} in code points and the words. Offsets come
  // from the text the API returned, never from the DOM's rendering of it; outer spaces are
  // dropped; null when nothing in `body` is selected.
  function selectedSpan(root, body, text) {
    // Chromium keeps a selection inside a shadow root on the root; others on the document.
    const selection = root.getSelection ? root.getSelection() : document.getSelection();
    if (!selection?.rangeCount || body.textContent !== text) return null;
    const range = selection.getRangeAt(0);
    if (range.collapsed || !body.contains(range.startContainer)) return null;
    if (!body.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.setStart(body, 0);
    before.setEnd(range.startContainer, range.startOffset);
    let start = before.toString().length; // UTF-16 units, as JS strings count
    let end = start + range.toString().length;
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    const words = text.slice(start, end);
    if (!words || words !== range.toString().trim()) return null;
    const from = Array.from(text.slice(0, start)).length;
    const span = { start: from, end: from + Array.from(words).length, text: words };
    // The server's own check, in its units: text[start:end] == words.
    if (Array.from(text).slice(span.start, span.end).join("") !== words) return null;
    return span;
  }

  // What a follow-up was searched as. The server either put a name in place of a pronoun
  // ("Where was Soleimani killed?"), shown as it is, or, for a question with neither, added
  // the conversation's last names in parentheses, which is a guess and said as one.
  function searchedFor(question, resolved) {
    const asked = question.trimEnd();
    const added = resolved.startsWith(`${asked} (`) && resolved.endsWith(")");
    if (!added) return `Searched for: ${resolved}`;
    const about = resolved.slice(asked.length + 2, -1);
    return `Searched for: ${asked}, taken to be about ${about} (a guess from the conversation)`;
  }

  function userMessage(question) {
    const text = h("p", { class: "text" }, question);
    return h("div", { class: "msg user" }, hidden("You asked: "), text);
  }

  // What the feedback bar says, for an exchange's feedback (null: none given yet).
  function feedbackMessage(feedback) {
    if (!feedback) return "";
    if (feedback.verdict === "helpful") return "Thanks: marked as helpful.";
    if (feedback.verdict === "unanswerable") {
      return "Thanks: noted that the articles don’t answer this.";
    }
    if (feedback.correction) {
      return `Thanks: “${feedback.correction.text}” is saved as the right answer.`;
    }
    return "Marked as wrong. If an article has the right answer, you can show it:";
  }

  // Agreeing sources cite their sentence but not where the answer sits in it: look it up.
  function rangeOf(text, needle) {
    const at = needle ? text.indexOf(needle) : -1;
    if (at < 0) return null;
    const start = Array.from(text.slice(0, at)).length;
    return { start, end: start + Array.from(needle).length };
  }

  // The whole article with the cited passage marked at its exact offsets, the answer
  // (document offsets too, or null) marked more strongly inside it, and the text ingest
  // left out of the index (`excluded`, spans in code points) muted. Only elements are
  // added around the text: the panel's textContent stays exactly the document's text.
  function articleText(text, passage, answer, excluded = []) {
    const chars = Array.from(text);
    const piece = (from, to) => withExcluded(chars, from, to, excluded);
    const inside =
      answer &&
      passage.start <= answer.start &&
      answer.start < answer.end &&
      answer.end <= passage.end;
    const mark = h(
      "mark",
      { class: "passage" },
      inside
        ? [
            piece(passage.start, answer.start),
            h("mark", { class: "hit" }, piece(answer.start, answer.end)),
            piece(answer.end, passage.end),
          ]
        : piece(passage.start, passage.end),
    );
    return [piece(0, passage.start), mark, piece(passage.end, chars.length)].flat();
  }

  // What ingest called a span it left out, in words for the muted text's tooltip.
  const EXCLUDED_REASONS = {
    chrome: "page furniture, such as an ad",
    publisher: "the publisher’s name",
    byline: "the byline",
    dateline: "the dateline",
    "date-prefix": "a date line",
    duplicate: "printed twice",
  };

  // `chars[from:to]` as text, with the parts inside `excluded` (sorted spans) as muted spans.
  function withExcluded(chars, from, to, excluded) {
    const nodes = [];
    let at = from;
    for (const span of excluded) {
      const start = Math.max(span.start, at);
      const end = Math.min(span.end, to);
      if (start >= end) continue;
      if (start > at) nodes.push(chars.slice(at, start).join(""));
      const reason = EXCLUDED_REASONS[span.reason] ?? span.reason;
      const title = `Not part of the article (${reason}): not searched`;
      nodes.push(h("span", { class: "excluded", title }, chars.slice(start, end).join("")));
      at = end;
    }
    if (at < to) nodes.push(chars.slice(at, to).join(""));
    return nodes;
  }

  // An answer as a person would paste it into a note: the answer, its passage in quotes,
  // and where it comes from (the article's address when the widget has it).
  function noteText(answer, url) {
    const page = answer.page ? `p. ${answer.page}` : null;
    const source = [answer.title, answer.source, formatDate(answer.date), page].filter(Boolean);
    return [
      answer.text,
      `“${answer.passage.text}”`,
      source.length ? `— ${source.join(", ")}` : null,
      url || null,
    ]
      .filter(Boolean)
      .join("\n");
  }

  // Put `text` on the clipboard: the Clipboard API, or where it is missing (a page served
  // over plain http from another host) a selected textarea and the copy command.
  async function copyText(text, root) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      const area = h("textarea", { class: "copy-buffer", readonly: true, "aria-hidden": "true" });
      area.value = text;
      root.append(area);
      area.select();
      let copied = false;
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
      area.remove();
      return copied;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Talking to the server.

  class ApiError extends Error {
    constructor(message, { retry = false } = {}) {
      super(message);
      this.retry = retry; // worth trying again as it is (not for input the server refused)
    }
  }

  // The person cancelled the request (its `signal` was aborted).
  class Cancelled extends Error {}

  // `signal`, when given, cancels the request: it then throws Cancelled.
  async function call(base, path, body, signal = null) {
    if (signal?.aborted) throw new Cancelled("cancelled");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const cancel = () => controller.abort();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      return await fetchJson(base, path, body, controller.signal);
    } catch (error) {
      if (signal?.aborted) throw new Cancelled("cancelled");
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", cancel);
    }
  }

  async function fetchJson(base, path, body, signal) {
    let response;
    try {
      response = await fetch(base + path, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") {
        throw new ApiError("The server took too long to answer. Please try again.", {
          retry: true,
        });
      }
      if (await refusedByCors(base)) {
        throw new ApiError(
          `The citeqa server at ${base} is running but does not allow this site ` +
            `(${location.origin}) to use it: its CITEQA_CORS_ORIGINS must include this ` +
            "origin.",
        );
      }
      throw new ApiError(
        "I couldn’t reach the citeqa server. Check that it is running, then try again.",
        { retry: true },
      );
    }
    const data = await response.json().catch(() => null);
    if (signal.aborted) {
      throw new ApiError("The server took too long to answer. Please try again.", { retry: true });
    }
    if (!response.ok) {
      const retry = response.status >= 500;
      throw new ApiError(httpProblem(response.status, data?.detail), { retry });
    }
    if (data === null) throw new ApiError("The server sent a reply this page can’t read.");
    return data;
  }

  // From another site, a server that is up but does not allow this origin fails a fetch
  // exactly as one that is down. A "no-cors" request tells them apart: it reaches a server
  // that is up whatever its CORS settings (its reply stays opaque), and fails on one that
  // is down.
  async function refusedByCors(base) {
    if (originOf(base) === location.origin) return false;
    try {
      await fetch(`${base}/health`, { mode: "no-cors", cache: "no-store" });
      return true;
    } catch {
      return false;
    }
  }

  // FastAPI reports bad input (422) as a list of {loc, msg}; other errors as a string.
  function httpProblem(status, detail) {
    if (status === 422) {
      const reasons = Array.isArray(detail)
        ? detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`)
        : [String(detail ?? "invalid request")];
      return `The server couldn’t accept that question (${reasons.join("; ")}).`;
    }
    if (status === 404) return `Not found: ${typeof detail === "string" ? detail : "no such page"}`;
    if (status >= 500) return "The server ran into a problem with that one. Please try again.";
    return `The server refused the request (HTTP ${status}).`;
  }

  // ---------------------------------------------------------------------------------------
  // <citeqa-chat>: the whole conversation. The full page uses it directly; the embed puts
  // one inside its floating panel.

  class CiteqaChat extends HTMLElement {
    #ui = null;
    #turns = []; // {question, answer} of earlier exchanges, for follow-up questions
    // The conversation as shown, kept in sessionStorage so a reload brings it back:
    // {question, response, feedback: {id, verdict, correction} | null} per exchange.
    #exchanges = [];
    #correcting = null; // the exchange whose right answer is being selected in the article
    #shown = null; // {doc_id, text} of the article in the panel, once loaded
    // The last words selected in the panel while correcting: pressing a button (mouse or
    // touch) collapses the selection before its click, so it is kept as it is made.
    #selected = null;
    #conversation = 0; // counts "New conversation"s, so a late answer lands nowhere
    #bars = new WeakMap(); // exchange -> its feedback bar's {render, status, next}
    #busy = false;
    #asking = null; // the AbortController of the question being answered, to cancel it
    #documents = new Map(); // doc_id -> Promise of the document, fetched once per page
    #urls = new Map(); // doc_id -> the article's address, for the documents fetched
    #corpusKnown = false;
    #opener = null; // the citation button that opened the article, to return focus to
    #showing = 0; // which article request is current, so a late reply cannot overwrite

    get apiUrl() {
      return trimSlash(this.getAttribute("api-url") || defaults.apiUrl);
    }

    get suggestions() {
      return parseList(this.getAttribute("suggestions")) ?? defaults.suggestions;
    }

    connectedCallback() {
      if (this.#ui) return; // moved within the page: keep the conversation as it is
      // Open, so host scripts and tests can look inside; isolation comes from the shadow
      // boundary itself.
      const root = this.attachShadow({ mode: "open" });
      this.#ui = this.#build();
      root.append(h("style", {}, CHAT_CSS), this.#ui.chat);
      document.addEventListener("selectionchange", () => this.#noteSelection());
      this.#restore();
      this.#loadCorpus();
    }

    focusInput() {
      this.#ui?.input.focus();
    }

    /** Name the corpus again, after it changed (the page's Sources view). */
    refreshCorpus() {
      if (this.#ui) this.#loadCorpus();
    }

    #build() {
      const corpus = h("p", { class: "corpus" }, "Looking up the articles…");
      const restart = h(
        "button",
        { type: "button", class: "restart", hidden: true, onclick: () => this.#restart() },
        "New conversation",
      );
      const header = h(
        "header",
        { class: "top", part: "header" },
        h("div", {}, h("h2", { class: "title" }, "Ask the articles"), corpus),
        // The full page puts its own controls in the slot (index.html: "Sources"); an
        // embed puts none.
        h("div", { class: "actions" }, restart, h("slot", { name: "actions" })),
      );
      const welcome = this.#welcome();
      const thread = h("div", { class: "thread" }, welcome);
      const log = h(
        "div",
        // A log is a polite live region: screen readers announce each new message.
        // tabindex: the keyboard can scroll it even where it holds nothing focusable.
        {
          class: "log",
          role: "log",
          "aria-live": "polite",
          "aria-label": "Conversation",
          tabindex: 0,
        },
        thread,
      );
      const { composer, input, send, counter, busyNote } = this.#composer();
      const article = this.#articleDialog();
      const chat = h("div", { class: "chat" }, header, log, composer, article.dialog);
      return {
        chat,
        corpus,
        restart,
        log,
        thread,
        welcome,
        input,
        send,
        counter,
        busyNote,
        article,
      };
    }

    #welcome() {
      const suggestions = this.suggestions;
      return h(
        "div",
        { class: "welcome" },
        h("p", {}, "Ask about the articles. Answers are quoted word for word, with their source."),
        suggestions.length ? h("p", { class: "try", id: "try" }, "For example:") : null,
        suggestions.length
          ? h(
              "ul",
              { class: "suggestions", "aria-labelledby": "try" },
              suggestions.map((q) =>
                h("li", {}, h("button", { type: "button", onclick: () => this.ask(q) }, q)),
              ),
            )
          : null,
      );
    }

    #composer() {
      const input = h("textarea", {
        id: "question",
        rows: "1",
        maxlength: String(MAX_QUESTION_CHARS),
        placeholder: "Ask a question…",
        "aria-describedby": "hint",
        enterkeyhint: "send",
        autocomplete: "off",
      });
      const send = h("button", { type: "submit", class: "send" }, icon("send"), hidden("Send"));
      const counter = h("span", { class: "counter", id: "counter" });
      // Said when a question is sent while another is being answered.
      const busyNote = h("p", { class: "busy-note", role: "status" });
      input.addEventListener("keydown", (event) => {
        // Enter sends; Shift+Enter falls through to the textarea and adds a line. An IME
        // composing a word also uses Enter, which must not send.
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.#submit();
        }
      });
      input.addEventListener("input", () => this.#fitInput());
      const composer = h(
        "form",
        {
          class: "composer",
          onsubmit: (event) => {
            event.preventDefault();
            this.#submit();
          },
        },
        h("label", { for: "question", class: "visually-hidden" }, "Ask a question"),
        h("div", { class: "box" }, input, send),
        busyNote,
        h("p", { class: "hint", id: "hint" }, "Enter to send · Shift+Enter: new line", counter),
      );
      return { composer, input, send, counter, busyNote };
    }

    #articleDialog() {
      const title = h("h2", { id: "article-title" });
      const meta = h("p", { class: "meta" });
      const body = h("div", { class: "article-text", tabindex: "0", "aria-label": "Article text" });
      const close = h(
        "button",
        { type: "button", class: "close", onclick: () => dialog.close() },
        icon("close"),
        hidden("Close article"),
      );
      const correctingStatus = h("p", { class: "select-status", role: "status" });
      const correcting = h(
        "div",
        { class: "correcting", hidden: true },
        h("p", { id: "select-hint" }, "Select the words that answer the question, then send them."),
        h(
          "button",
          {
            type: "button",
            class: "use-selection",
            "aria-describedby": "select-hint",
            onclick: () => this.#sendSelection(),
          },
          "Send the selected words as the answer",
        ),
        correctingStatus,
      );
      const dialog = h(
        "dialog",
        { class: "article", "aria-labelledby": "article-title" },
        h(
          "div",
          { class: "sheet" },
          h("header", {}, h("div", {}, title, meta), close),
          body,
          correcting,
        ),
      );
      // A click on the backdrop lands on the dialog itself (the sheet fills the rest).
      dialog.addEventListener("click", (event) => event.target === dialog && dialog.close());
      dialog.addEventListener("close", () => {
        this.#correcting = null;
        this.#opener?.focus();
      });
      return { dialog, title, meta, body, correcting, correctingStatus };
    }

    // -- asking ---------------------------------------------------------------------------

    #submit() {
      const { input } = this.#ui;
      if (this.#busy) {
        this.#sayBusy();
        return;
      }
      if (!input.value.trim()) return;
      const question = input.value;
      input.value = "";
      this.#fitInput();
      this.ask(question);
    }

    /** Ask `question` as the next turn of the conversation. */
    ask(question) {
      question = question.trim();
      if (this.#busy) {
        this.#sayBusy();
        return;
      }
      if (!question) return;
      this.#ui.welcome.remove();
      this.#ui.restart.hidden = false;
      this.#append(userMessage(question));
      if (question.length > MAX_QUESTION_CHARS) {
        // The textarea stops typing past the limit; this catches anything set another way.
        this.#append(
          this.#problem(
            `Questions can be at most ${MAX_QUESTION_CHARS} characters; ` +
              `this one has ${question.length}.`,
          ),
        );
        return;
      }
      this.#fetchAnswer(question);
    }

    async #fetchAnswer(question) {
      const asking = new AbortController();
      const waiting = this.#waiting(() => asking.abort());
      this.#append(waiting.node);
      this.#asking = asking;
      this.#setBusy(true);
      const conversation = this.#conversation;
      try {
        const response = await call(
          this.apiUrl,
          "/ask",
          { question, history: this.#turns.slice(-HISTORY_TURNS) },
          asking.signal,
        );
        if (conversation !== this.#conversation) return; // "New conversation" came first
        waiting.remove();
        const exchange = { question, response, feedback: null };
        this.#exchanges.push(exchange);
        this.#save();
        this.#append(this.#reply(exchange));
        this.#remember(question, response);
        if (!this.#corpusKnown) this.#loadCorpus(); // the server is back: name the corpus
      } catch (error) {
        if (conversation !== this.#conversation) return;
        waiting.remove();
        if (error instanceof Cancelled) {
          this.#append(this.#problem("Cancelled: this question was not answered.", question, true));
          return;
        }
        if (!(error instanceof ApiError)) console.error("citeqa:", error);
        const known = error instanceof ApiError;
        const message = known ? error.message : "Something went wrong showing this answer.";
        this.#append(this.#problem(message, known && error.retry ? question : null));
      } finally {
        waiting.stop();
        // Unless "New conversation" cancelled it and another question is on its way already.
        if (this.#asking === asking) {
          this.#asking = null;
          this.#setBusy(false);
        }
      }
    }

    // The message shown while a question is answered: how long it has been, and a button
    // that cancels it. remove() takes it away, keeping focus in the chat.
    #waiting(cancel) {
      // Not read out each second: the log is a live region. aria-hidden keeps it quiet.
      const elapsed = h("span", { class: "elapsed", "aria-hidden": "true" });
      const button = h(
        "button",
        { type: "button", class: "cancel", onclick: cancel },
        "Cancel",
        hidden(" this question"),
      );
      const node = h(
        "div",
        { class: "msg bot typing" },
        h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
        h("p", { class: "waiting" }, "Looking through the articles…", elapsed),
        button,
      );
      const started = Date.now();
      const timer = setInterval(() => {
        const seconds = Math.floor((Date.now() - started) / 1000);
        elapsed.textContent = seconds > 0 ? ` ${seconds} s` : "";
      }, 1000);
      return {
        node,
        stop: () => clearInterval(timer),
        remove: () => {
          const focused = node.contains(this.shadowRoot.activeElement);
          node.remove();
          if (focused) this.focusInput();
        },
      };
    }

    // A question was sent while another is being answered: say so, and keep what was
    // typed in the box.
    #sayBusy() {
      const typed = this.#ui.input.value.trim();
      this.#ui.busyNote.textContent =
        "One question is answered at a time: wait for this answer, or cancel it." +
        (typed ? " Your next question stays in the box until then." : "");
    }

    #remember(question, response) {
      // The resolved form names who "he" was, so a second follow-up can still find it.
      const asked = (response.resolved_question || question).slice(0, MAX_QUESTION_CHARS);
      const answer = response.answers?.[0]?.text?.slice(0, MAX_ANSWER_CHARS) ?? null;
      this.#turns.push({ question: asked, answer });
    }

    #setBusy(busy) {
      this.#busy = busy;
      if (!busy) this.#ui.busyNote.textContent = "";
      // aria-disabled rather than disabled: the button keeps focus if it has it.
      this.#ui.send.setAttribute("aria-disabled", String(busy));
    }

    #fitInput() {
      const { input, counter } = this.#ui;
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
      const length = input.value.length;
      counter.textContent = length >= COUNTER_FROM ? ` · ${length} / ${MAX_QUESTION_CHARS}` : "";
    }

    #append(node) {
      this.#ui.thread.append(node);
      this.#reveal(node);
      return node;
    }

    // Scroll the conversation (only it: scrollIntoView would also scroll the host page) so
    // `node` shows, from its top when it is taller than the view.
    #reveal(node) {
      const { log } = this.#ui;
      const bottom = node.offsetTop + node.offsetHeight - log.clientHeight + 16;
      log.scrollTop = Math.max(log.scrollTop, Math.min(bottom, node.offsetTop - 16));
    }

    // -- rendering replies ----------------------------------------------------------------

    #reply(exchange) {
      const response = exchange.response;
      const resolved = response.resolved_question;
      const answers = response.answers ?? [];
      let body;
      if (response.no_answer || !answers.length) body = this.#noAnswer(response.related ?? []);
      else if (response.conflict) body = this.#conflict(answers);
      else body = this.#answers(answers);
      return h(
        "div",
        { class: "msg bot" },
        hidden("citeqa answered: "),
        resolved ? h("p", { class: "resolved" }, searchedFor(exchange.question, resolved)) : null,
        body,
        this.#feedbackBar(exchange),
      );
    }

    #answers([best, ...others]) {
      if (!others.length) return [this.#answerCard(best)];
      const label =
        others.length === 1 ? "1 other possible answer" : `${others.length} other possible answers`;
      return [
        this.#answerCard(best),
        h(
          "details",
          { class: "more" },
          h("summary", {}, label),
          others.map((a) => this.#answerCard(a)),
        ),
      ];
    }

    #conflict(answers) {
      return [
        h("p", { class: "conflict" }, "The sources disagree. Here is what each one says:"),
        answers.map((a) => this.#answerCard(a, "disagree")),
      ];
    }

    #answerCard(answer, variant = "") {
      const passage = answer.passage;
      const inPassage = { start: answer.start - passage.start, end: answer.end - passage.start };
      const sureness = SURENESS.find((band) => answer.score >= band.from);
      return h(
        "div",
        { class: `answer ${variant} ${sureness.unsure ? "unsure" : ""}`.trim() },
        h("p", { class: "short" }, h("strong", {}, answer.text)),
        h("p", { class: "sureness" }, `${sureness.words} (${percent(answer.score)})`),
        this.#citation(answer, inPassage),
        answer.also_in?.length ? this.#agreeing(answer) : null,
        this.#copyButton(answer),
      );
    }

    // Copies the answer, its passage and its source as plain text, for a note.
    #copyButton(answer) {
      const status = h("span", { class: "copy-status", role: "status" });
      const button = h(
        "button",
        {
          type: "button",
          class: "copy",
          onclick: async () => {
            status.textContent = ""; // so that each copy is said again
            const text = noteText(answer, this.#urls.get(answer.doc_id));
            const copied = await copyText(text, this.shadowRoot);
            button.focus(); // the fallback's textarea took it
            status.textContent = copied
              ? "Copied the answer, its passage and source."
              : "This browser did not allow copying.";
          },
        },
        "Copy",
        hidden(" the answer with its source"),
      );
      return h("div", { class: "copy-row" }, button, status);
    }

    #agreeing(answer) {
      const n = answer.also_in.length;
      return h(
        "details",
        { class: "agree" },
        h("summary", {}, n === 1 ? "1 more source agrees" : `${n} more sources agree`),
        answer.also_in.map((c) => this.#citation(c, rangeOf(c.passage.text, answer.text))),
      );
    }

    #noAnswer(related) {
      return [
        h("p", { class: "none" }, "I couldn’t find that in the articles."),
        related.length
          ? h(
              "div",
              { class: "related" },
              h("p", { class: "label" }, "Maybe related:"),
              related.map((c) => this.#citation(c, null)),
            )
          : null,
      ];
    }

    // A quoted passage with the answer marked (`range` in code points within the passage),
    // and a button naming the article that opens it at that passage.
    #citation(cite, range) {
      const passage = cite.passage;
      const answer = range && {
        start: passage.start + range.start,
        end: passage.start + range.end,
      };
      const open = () => this.#openArticle(cite, answer, button);
      const button = h(
        "button",
        { type: "button", class: "source", onclick: open },
        hidden("Open article: "),
        cite.title || "Untitled article",
      );
      const meta = sourceLine(cite);
      const chars = Array.from(passage.text);
      // Clicking the quote is a mouse shortcut; the button is the keyboard's way in.
      const quote = h("blockquote", { onclick: open }, highlighted(chars, range, "hit"));
      return h(
        "figure",
        { class: "cite" },
        quote,
        chars.length > LONG_PASSAGE ? this.#expandable(quote, chars, range) : null,
        h("figcaption", {}, button, meta ? h("span", { class: "meta" }, meta) : null),
      );
    }

    // A long passage shows the words around the answer; the button shows it all, in place.
    #expandable(quote, chars, range) {
      const { from, to } = excerptOf(chars, range);
      const inExcerpt = range && { start: range.start - from, end: range.end - from };
      const excerpt = () => [
        from > 0 ? "… " : "",
        highlighted(chars.slice(from, to), inExcerpt, "hit"),
        to < chars.length ? " …" : "",
      ];
      const toggle = h("button", { type: "button", class: "expand", "aria-expanded": "false" });
      const show = (whole) => {
        quote.replaceChildren(...(whole ? highlighted(chars, range, "hit") : excerpt()).flat());
        toggle.setAttribute("aria-expanded", String(whole));
        toggle.textContent = whole ? "Show less" : "Show the whole passage";
      };
      toggle.addEventListener("click", () => show(toggle.getAttribute("aria-expanded") !== "true"));
      show(false);
      return toggle;
    }

    // -- feedback -------------------------------------------------------------------------

    // "Helpful" and "Wrong" under a reply; after "Wrong", the ways to say what is right.
    #feedbackBar(exchange) {
      const best = exchange.response.answers?.[0] ?? null;
      const cite = best ?? exchange.response.related?.[0] ?? null;
      const status = h("p", { class: "feedback-status", role: "status", tabindex: "-1" });
      const button = (className, label, onclick) =>
        h("button", { type: "button", class: className, onclick }, label);
      const helpful = button("helpful", "Helpful", () => this.#give(exchange, "helpful", helpful));
      const wrong = button("wrong", "Wrong", () => this.#give(exchange, "wrong", wrong));
      const select = cite
        ? button("correct", "Select the right answer in the article", () =>
            this.#openArticle(cite, best, select, exchange),
          )
        : null;
      const none = button("unanswerable", "The articles don’t answer this", () =>
        this.#give(exchange, "unanswerable", none),
      );
      const correction = h("div", { class: "correction" }, select, none);
      const render = () => {
        const verdict = exchange.feedback?.verdict;
        helpful.setAttribute("aria-pressed", String(verdict === "helpful"));
        const saidWrong = verdict === "wrong" || verdict === "unanswerable";
        wrong.setAttribute("aria-pressed", String(saidWrong));
        correction.hidden = verdict !== "wrong" || Boolean(exchange.feedback.correction);
        status.textContent = feedbackMessage(exchange.feedback);
      };
      this.#bars.set(exchange, { render, status, next: select ?? none });
      render();
      return h(
        "div",
        { class: "feedback", role: "group", "aria-label": "Was this answer right?" },
        h("div", { class: "verdicts" }, helpful, wrong),
        status,
        correction,
      );
    }

    // Send a verdict (and a correction) for `exchange`; the same id each time, so the
    // server amends one feedback. `from` is the button pressed, for where focus goes next.
    async #give(exchange, verdict, from, correction = null) {
      const bar = this.#bars.get(exchange);
      const given = exchange.feedback;
      // Said already: sending it again would drop a correction given since.
      if (!correction && given?.verdict === verdict) return true;
      const id = given?.id ?? newId();
      const best = exchange.response.answers?.[0];
      const body = { id, question: exchange.question, verdict };
      if (exchange.response.resolved_question) {
        body.resolved_question = exchange.response.resolved_question;
      }
      if (best) {
        body.answer = { doc_id: best.doc_id, start: best.start, end: best.end, text: best.text };
      }
      if (correction) body.correction = correction;
      try {
        await call(this.apiUrl, "/feedback", body);
      } catch (error) {
        const message = error instanceof ApiError ? error.message : "Something went wrong.";
        bar.status.textContent = `The feedback was not saved. ${message}`;
        return false;
      }
      exchange.feedback = { id, verdict, correction };
      this.#save();
      bar.render();
      // After "Wrong", on to saying what is right; otherwise stay where the person is.
      if (verdict === "wrong" && !correction && from) bar.next.focus();
      if (verdict === "unanswerable") bar.status.focus();
      return true;
    }

    #noteSelection() {
      if (!this.#correcting || !this.#shown) return;
      const { body, correctingStatus } = this.#ui.article;
      const span = selectedSpan(this.shadowRoot, body, this.#shown.text);
      if (!span) return;
      this.#selected = { doc_id: this.#shown.doc_id, ...span };
      correctingStatus.textContent = `Selected: “${span.text}”`;
    }

    // The article panel's "send the selected words": the correction of the exchange the
    // panel was opened for, checked against the article text when it was selected.
    async #sendSelection() {
      const { dialog, correctingStatus } = this.#ui.article;
      const exchange = this.#correcting;
      const correction = this.#selected;
      if (!exchange) return;
      if (!correction) {
        correctingStatus.textContent = "Select the words of the article that answer first.";
        return;
      }
      correctingStatus.textContent = "Sending…";
      if (await this.#give(exchange, "wrong", null, correction)) {
        this.#opener = this.#bars.get(exchange).status; // focus the thanks once it closes
        dialog.close();
      } else {
        correctingStatus.textContent = this.#bars.get(exchange).status.textContent;
      }
    }

    // -- the conversation across reloads --------------------------------------------------

    get #storageKey() {
      return STORAGE_PREFIX + this.apiUrl;
    }

    #save() {
      try {
        sessionStorage.setItem(this.#storageKey, JSON.stringify(this.#exchanges));
      } catch {
        // Storage off or full: the conversation still works, it just won't survive a reload.
      }
    }

    #restore() {
      let saved;
      try {
        saved = JSON.parse(sessionStorage.getItem(this.#storageKey) ?? "[]");
      } catch {
        return;
      }
      if (!Array.isArray(saved)) return;
      const exchanges = saved.filter(
        (e) => typeof e?.question === "string" && e.response && typeof e.response === "object",
      );
      if (!exchanges.length) return;
      const { log, thread, welcome, restart } = this.#ui;
      // Restored, not new: screen readers should not read the whole conversation out again.
      log.setAttribute("aria-busy", "true");
      welcome.remove();
      for (const exchange of exchanges) {
        this.#exchanges.push(exchange);
        thread.append(userMessage(exchange.question), this.#reply(exchange));
        this.#remember(exchange.question, exchange.response);
      }
      restart.hidden = false;
      requestAnimationFrame(() => {
        log.scrollTop = log.scrollHeight;
        log.removeAttribute("aria-busy");
      });
    }

    #restart() {
      const { thread, restart } = this.#ui;
      this.#conversation++;
      this.#asking?.abort(); // nobody is waiting for its answer any more
      this.#asking = null;
      this.#exchanges = [];
      this.#turns = [];
      try {
        sessionStorage.removeItem(this.#storageKey);
      } catch {
        // Nothing was stored.
      }
      this.#ui.welcome = this.#welcome();
      thread.replaceChildren(this.#ui.welcome);
      restart.hidden = true;
      this.#setBusy(false);
      this.focusInput();
    }

    // An error (or, `cancelled`, a note that the person cancelled) with a button that asks
    // `retryQuestion` again.
    #problem(message, retryQuestion, cancelled = false) {
      const bubble = h(
        "div",
        cancelled
          ? { class: "msg bot cancelled", role: "status" }
          : { class: "msg bot error", role: "alert" },
        h("p", {}, message),
        retryQuestion
          ? h(
              "button",
              {
                type: "button",
                class: "retry",
                onclick: () => {
                  if (this.#busy) {
                    this.#sayBusy();
                    return;
                  }
                  bubble.remove();
                  this.focusInput();
                  this.#fetchAnswer(retryQuestion);
                },
              },
              cancelled ? "Ask again" : "Try again",
            )
          : null,
      );
      return bubble;
    }

    // -- the article panel ----------------------------------------------------------------

    // `correcting`: the exchange whose right answer the person is about to select here.
    async #openArticle(cite, answer, opener, correcting = null) {
      const { dialog, title, meta, body, correcting: footer, correctingStatus } = this.#ui.article;
      const request = ++this.#showing;
      this.#opener = opener;
      this.#shown = null;
      this.#selected = null;
      title.textContent = cite.title || "Untitled article";
      meta.textContent = sourceLine(cite);
      body.replaceChildren(h("p", { class: "loading" }, "Loading the article…"));
      footer.hidden = !correcting;
      correctingStatus.textContent = "";
      if (!dialog.open) dialog.showModal();
      this.#correcting = correcting;
      try {
        const doc = await this.#document(cite.doc_id);
        if (request !== this.#showing) return;
        body.replaceChildren(...articleText(doc.text, cite.passage, answer, doc.excluded ?? []));
        this.#shown = { doc_id: cite.doc_id, text: doc.text };
        this.#scrollToPassage(body);
      } catch (error) {
        if (request !== this.#showing) return;
        this.#documents.delete(cite.doc_id); // let the next click try again
        const message =
          error instanceof ApiError ? error.message : "This article could not be shown.";
        body.replaceChildren(h("p", { class: "problem", role: "alert" }, message));
      }
    }

    #document(docId) {
      if (!this.#documents.has(docId)) {
        const doc = call(this.apiUrl, `/documents/${encodeURIComponent(docId)}`);
        this.#documents.set(docId, doc);
        doc.then((d) => d.url && this.#urls.set(docId, d.url)).catch(() => {});
      }
      return this.#documents.get(docId);
    }

    // Put the answer (or, without one, the passage) a third of the way down the panel,
    // scrolling the panel only: a long passage's start may be far above its answer.
    #scrollToPassage(body) {
      const mark = body.querySelector("mark.hit") ?? body.querySelector("mark.passage");
      if (mark) body.scrollTop = Math.max(0, mark.offsetTop - body.clientHeight / 3);
    }

    // -- the corpus line ------------------------------------------------------------------

    async #loadCorpus() {
      const { corpus } = this.#ui;
      try {
        const ready = await call(this.apiUrl, "/ready");
        this.#corpusKnown = true;
        const model = String(ready.model || "").split("/").pop();
        const parts = [
          `Searching ${counted(ready.documents, "article")}`,
          counted(ready.chunks, "passage"),
          model,
        ];
        corpus.textContent = ready.ready
          ? parts.filter(Boolean).join(" · ")
          : "No articles are indexed yet.";
      } catch {
        corpus.textContent = "The article collection is unavailable right now.";
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // <citeqa-embed>: the floating button and panel another site gets from the script tag.

  class CiteqaEmbed extends HTMLElement {
    #panel = null;
    #launcher = null;
    #chat = null;

    connectedCallback() {
      if (this.shadowRoot) return;
      const root = this.attachShadow({ mode: "open" });
      this.#chat = document.createElement("citeqa-chat");
      this.#chat.setAttribute("api-url", this.getAttribute("api-url") || defaults.apiUrl);
      const close = h(
        "button",
        { type: "button", class: "close", onclick: () => this.toggle(false) },
        icon("close"),
        hidden("Close chat"),
      );
      this.#panel = h(
        "section",
        {
          class: "panel",
          id: "panel",
          role: "dialog",
          "aria-label": "Ask the articles",
          hidden: true,
        },
        close,
        this.#chat,
      );
      this.#launcher = h(
        "button",
        {
          type: "button",
          class: "launcher",
          "aria-expanded": "false",
          "aria-controls": "panel",
          onclick: () => this.toggle(),
        },
        icon("chat"),
        hidden("Ask the articles"),
      );
      this.#panel.addEventListener("keydown", (event) => {
        // Escape inside the article dialog closes only the dialog.
        const inDialog = event.composedPath().some((n) => n.localName === "dialog");
        if (event.key === "Escape" && !inDialog) this.toggle(false);
      });
      root.append(h("style", {}, EMBED_CSS), this.#panel, this.#launcher);
    }

    toggle(open = this.#panel.hidden) {
      this.#panel.hidden = !open;
      this.#launcher.setAttribute("aria-expanded", String(open));
      if (open) this.#chat.focusInput();
      else this.#launcher.focus();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Styles. em units throughout, from a fixed 16px base: rem would follow the host page.

  const SHARED_CSS = `
    :host {
      all: initial;
      --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d5dbe1; --soft: #f1f4f7;
      --accent: #1d5bc7; --accent-fg: #ffffff; --user: #1d5bc7; --user-fg: #ffffff;
      --mark: #fff0a8; --mark-strong: #ffd43b; --mark-edge: #d9a700;
      --bad: #b3261e; --bad-bg: #fdeceb;
      --warn: #7a4a00; --warn-bg: #fff3d6; --shadow: 0 0.5em 2em rgb(0 0 0 / 0.18);
      color-scheme: light dark;
    }
    @media (prefers-color-scheme: dark) {
      :host {
        --bg: #14171b; --fg: #e7eaee; --muted: #a2acb7; --line: #343b43; --soft: #1e2329;
        --accent: #8ab4ff; --accent-fg: #0d1b33; --user: #2f5fb8; --user-fg: #ffffff;
        --mark: #3d3500; --mark-strong: #6b5a00; --mark-edge: #c9a400;
        --bad: #ffb4ab; --bad-bg: #3b1714;
        --warn: #ffd58a; --warn-bg: #352800; --shadow: 0 0.5em 2em rgb(0 0 0 / 0.6);
      }
    }
    *, *::before, *::after { box-sizing: border-box; }
    button { font: inherit; color: inherit; cursor: pointer; }
    :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    svg { width: 1.25em; height: 1.25em; fill: currentColor; display: block; }
    .visually-hidden {
      position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
      overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
    }
  `;

  const CHAT_CSS = `${SHARED_CSS}
    :host { display: block; height: 100%; min-height: 0; }
    .chat {
      height: 100%; display: grid; grid-template-rows: auto minmax(0, 1fr) auto;
      background: var(--bg); color: var(--fg);
      font: 400 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      -webkit-text-size-adjust: 100%;
    }
    .top {
      padding: 0.75em 1.25em; border-bottom: 1px solid var(--line);
      display: flex; gap: 1em; align-items: center; justify-content: space-between;
    }
    .restart {
      flex: none; border: 1px solid var(--line); background: var(--bg); border-radius: 1.2em;
      padding: 0.3em 0.8em; font-size: 0.85em;
    }
    .restart:hover { border-color: var(--accent); }
    .restart[hidden] { display: none; }
    .actions { flex: none; display: flex; align-items: center; gap: 0.5em; }
    .title { margin: 0; font-size: 1.05em; font-weight: 650; }
    .corpus { margin: 0.1em 0 0; font-size: 0.8em; color: var(--muted); }

    .log { position: relative; overflow-y: auto; overscroll-behavior: contain; padding: 1.25em; }
    .log:focus-visible { outline-offset: -3px; }
    .thread { max-width: 46em; margin: 0 auto; display: flex; flex-direction: column; gap: 1em; }

    .welcome { color: var(--muted); }
    .welcome p { margin: 0 0 0.5em; }
    .suggestions {
      list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.5em;
    }
    .suggestions button {
      border: 1px solid var(--line); background: var(--soft); border-radius: 1.2em;
      padding: 0.45em 0.9em; text-align: left; font-size: 0.92em;
    }
    .suggestions button:hover { border-color: var(--accent); }

    .msg { max-width: 100%; overflow-wrap: anywhere; }
    .msg p { margin: 0; }
    .user {
      align-self: flex-end; max-width: 85%; background: var(--user); color: var(--user-fg);
      padding: 0.55em 0.9em; border-radius: 1.1em 1.1em 0.25em 1.1em;
    }
    .user .text { white-space: pre-wrap; }
    .bot {
      align-self: flex-start; width: 100%; background: var(--soft);
      padding: 0.8em 1em; border-radius: 1.1em 1.1em 1.1em 0.25em;
      display: flex; flex-direction: column; gap: 0.6em;
    }
    .resolved { font-size: 0.8em; color: var(--muted); }
    .conflict {
      color: var(--warn); background: var(--warn-bg); padding: 0.4em 0.7em; border-radius: 0.5em;
    }
    .none { font-weight: 600; }
    .error { background: var(--bad-bg); color: var(--bad); }
    .retry {
      align-self: flex-start; border: 1px solid currentColor; background: transparent;
      border-radius: 0.4em; padding: 0.2em 0.8em; font-size: 0.9em;
    }
    .cancelled { color: var(--muted); }

    .answer { display: flex; flex-direction: column; gap: 0.35em; }
    .answer.disagree { border-left: 3px solid var(--warn); padding-left: 0.7em; }
    .short { font-size: 1.1em; }
    .sureness { margin: 0; font-size: 0.85em; color: var(--muted); }
    .unsure .short { font-weight: 400; }
    .unsure .sureness { color: var(--warn); }
    .cite { margin: 0; }
    blockquote {
      margin: 0; padding: 0.1em 0 0.1em 0.8em; border-left: 3px solid var(--line);
      cursor: pointer; white-space: pre-wrap;
    }
    mark { background: var(--mark); color: inherit; border-radius: 0.15em; }
    mark.hit { background: var(--mark-strong); padding: 0 0.1em; }
    figcaption { font-size: 0.85em; margin-top: 0.3em; padding-left: 0.95em; }
    .source {
      border: 0; background: none; padding: 0; color: var(--accent); text-align: left;
      text-decoration: underline; text-underline-offset: 0.15em;
    }
    .cite .meta { color: var(--muted); }
    .cite .meta::before { content: " — "; }
    details { font-size: 0.95em; }
    details > :not(summary) { margin-top: 0.6em; }
    summary { cursor: pointer; color: var(--accent); width: fit-content; }
    .related { display: flex; flex-direction: column; gap: 0.6em; }
    .expand {
      border: 0; background: none; padding: 0 0 0 0.95em; color: var(--accent);
      font-size: 0.85em; text-decoration: underline; text-underline-offset: 0.15em;
    }

    .feedback {
      display: flex; flex-wrap: wrap; align-items: center; gap: 0.4em 0.8em;
      border-top: 1px solid var(--line); padding-top: 0.5em; font-size: 0.88em;
    }
    .verdicts, .correction { display: flex; flex-wrap: wrap; gap: 0.4em; }
    .correction[hidden] { display: none; }
    .feedback button {
      border: 1px solid var(--line); background: var(--bg); border-radius: 1em;
      padding: 0.2em 0.8em;
    }
    .feedback button:hover { border-color: var(--accent); }
    .feedback button[aria-pressed="true"] {
      background: var(--accent); color: var(--accent-fg); border-color: var(--accent);
    }
    .feedback-status { color: var(--muted); }
    .feedback-status:empty { display: none; }
    .correction { flex-basis: 100%; }
    .related .label { color: var(--muted); font-size: 0.9em; }
    .copy-row { display: flex; flex-wrap: wrap; align-items: center; gap: 0.3em 0.8em; }
    .copy {
      border: 1px solid var(--line); background: var(--bg); border-radius: 1em;
      padding: 0.1em 0.8em; font-size: 0.85em;
    }
    .copy:hover { border-color: var(--accent); }
    .copy-status { font-size: 0.85em; color: var(--muted); }
    .copy-buffer { position: fixed; top: 0; left: -100em; opacity: 0; }

    .typing {
      width: auto; padding: 0.7em 1em; flex-direction: row; flex-wrap: wrap;
      align-items: center; gap: 0.4em 0.9em;
    }
    .waiting { color: var(--muted); font-size: 0.92em; }
    .elapsed { font-variant-numeric: tabular-nums; }
    .cancel {
      border: 1px solid var(--line); background: var(--bg); border-radius: 1em;
      padding: 0.1em 0.8em; font-size: 0.85em;
    }
    .cancel:hover { border-color: var(--accent); }
    .dots { display: flex; gap: 0.3em; }
    .dots i {
      width: 0.5em; height: 0.5em; border-radius: 50%; background: var(--muted);
      animation: blink 1.2s infinite;
    }
    .dots i:nth-child(2) { animation-delay: 0.2s; }
    .dots i:nth-child(3) { animation-delay: 0.4s; }
    @keyframes blink { 0%, 80%, 100% { opacity: 0.25; } 40% { opacity: 1; } }
    @media (prefers-reduced-motion: reduce) { .dots i { animation: none; opacity: 0.6; } }

    .composer { border-top: 1px solid var(--line); padding: 0.75em 1.25em 0.6em; }
    .box {
      max-width: 46em; margin: 0 auto; display: flex; align-items: flex-end; gap: 0.5em;
      border: 1px solid var(--line); border-radius: 1.2em; padding: 0.3em 0.3em 0.3em 0.9em;
      background: var(--bg);
    }
    /* The ring goes round the whole box, which holds the send button too. */
    .box:focus-within { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
    textarea:focus-visible { outline: none; }
    textarea {
      flex: 1; min-width: 0; border: 0; outline: none; resize: none; background: transparent;
      color: inherit; font: inherit; padding: 0.4em 0; max-height: 10em;
    }
    .send {
      flex: none; border: 0; border-radius: 50%; width: 2.4em; height: 2.4em;
      display: grid; place-items: center; background: var(--accent); color: var(--accent-fg);
    }
    .send[aria-disabled="true"] { opacity: 0.5; cursor: progress; }
    .hint { max-width: 46em; margin: 0.35em auto 0; font-size: 0.75em; color: var(--muted); }
    .busy-note {
      max-width: 46em; margin: 0.4em auto 0; font-size: 0.85em; color: var(--warn);
    }
    .busy-note:empty { display: none; }

    dialog.article {
      padding: 0; border: 0; margin: 0 0 0 auto; width: min(44em, 100vw); max-width: 100vw;
      height: 100vh; height: 100dvh; max-height: none; background: var(--bg); color: var(--fg);
      box-shadow: var(--shadow);
      font: 400 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    }
    dialog.article::backdrop { background: rgb(0 0 0 / 0.4); }
    .sheet { height: 100%; display: flex; flex-direction: column; }
    .sheet header {
      display: flex; gap: 1em; align-items: flex-start; justify-content: space-between;
      padding: 1em 1.25em 0.75em; border-bottom: 1px solid var(--line);
    }
    .sheet h2 { margin: 0; font-size: 1.15em; line-height: 1.3; }
    .sheet .meta { margin: 0.2em 0 0; color: var(--muted); font-size: 0.85em; }
    .close {
      flex: none; border: 0; background: var(--soft); border-radius: 50%; width: 2.2em;
      height: 2.2em; display: grid; place-items: center;
    }
    .article-text {
      position: relative; flex: 1; overflow-y: auto; padding: 1em 1.5em 3em;
      white-space: pre-wrap; overflow-wrap: anywhere;
    }
    .article-text mark.passage { outline: 2px solid var(--mark-edge); outline-offset: 1px; }
    /* Text ingest left out of the index (ads, bylines, ...): still there, offsets intact. */
    .article-text .excluded { color: var(--muted); opacity: 0.8; }
    .correcting {
      border-top: 1px solid var(--line); padding: 0.75em 1.25em; background: var(--soft);
      display: flex; flex-wrap: wrap; gap: 0.5em 1em; align-items: center;
    }
    .correcting[hidden] { display: none; }
    .correcting p { margin: 0; font-size: 0.9em; }
    .use-selection {
      border: 0; border-radius: 1.2em; padding: 0.4em 1em; background: var(--accent);
      color: var(--accent-fg);
    }
    .select-status { flex-basis: 100%; color: var(--muted); }
    .select-status:empty { display: none; }
    .loading { color: var(--muted); }
    .problem { color: var(--bad); }

    @media (max-width: 30em) {
      .top, .log, .composer { padding-left: 0.8em; padding-right: 0.8em; }
      .user { max-width: 92%; }
      .hint { display: none; }
      .article-text { padding: 1em; }
    }
  `;

  const EMBED_CSS = `${SHARED_CSS}
    :host { position: fixed; z-index: 2147483000; }
    .launcher {
      position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border: 0;
      border-radius: 50%; display: grid; place-items: center; background: var(--accent);
      color: var(--accent-fg); box-shadow: var(--shadow);
    }
    .launcher svg { width: 26px; height: 26px; }
    .panel {
      position: fixed; right: 20px; bottom: 88px; width: min(420px, calc(100vw - 40px));
      height: min(640px, calc(100vh - 108px)); display: flex; flex-direction: column;
      background: var(--bg); border: 1px solid var(--line); border-radius: 16px;
      overflow: hidden; box-shadow: var(--shadow);
    }
    .panel[hidden] { display: none; }
    .panel citeqa-chat { flex: 1; min-height: 0; }
    citeqa-chat::part(header) { padding-right: 56px; }
    .close {
      position: absolute; top: 10px; right: 10px; z-index: 1; width: 36px; height: 36px;
      border: 0; border-radius: 50%; display: grid; place-items: center;
      background: var(--soft); color: var(--fg);
    }
    @media (max-width: 30em) {
      .panel { inset: 0; width: auto; height: auto; border: 0; border-radius: 0; }
      .panel:not([hidden]) ~ .launcher { display: none; }
    }
  `;

  customElements.define("citeqa-chat", CiteqaChat);
  customElements.define("citeqa-embed", CiteqaEmbed);
  // The page's own scripts (sources.js) build their DOM the same way: one copy of it.
  window.citeqaDom = Object.freeze({ h, hidden, icon, counted, formatDate });

  // The full page places its own <citeqa-chat>; on any other page the script adds the
  // floating button.
  function mountLauncher() {
    if (!document.querySelector("citeqa-chat, citeqa-embed")) {
      document.body.append(document.createElement("citeqa-embed"));
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountLauncher);
  } else {
    mountLauncher();
  }
})();
