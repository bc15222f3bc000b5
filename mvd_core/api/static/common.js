// What the dashboard (app.js) and a participant's connector page (connector.js) share: building
// DOM nodes, the API client with this browser session's token, the token dialog, formatting.
// Plain JavaScript, no build step; loaded before the page's own script.
"use strict";

window.MVD = (() => {
  const TOKEN_KEY = "mvd.apiToken";
  const tokenListeners = [];

  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // Re-render a region without losing the keyboard focus inside it (elements that can
  // take focus carry data-focus-key).
  function replaceContent(container, nodes) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.getAttribute("data-focus-key") : null;
    container.replaceChildren(...nodes);
    if (key) {
      const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  function renderIfChanged(container, signature, render) {
    if (container.dataset.sig === signature) return;
    container.dataset.sig = signature;
    replaceContent(container, render());
  }

  // --- formatting ----------------------------------------------------------------------

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  function fmtWhen(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? String(iso || "") : dateFormat.format(new Date(t));
  }

  function timeEl(iso) {
    return h("time", { datetime: iso, title: iso }, fmtWhen(iso));
  }

  function pill(status, text) {
    return h("span", { class: `pill pill-${status}`, "data-status": status }, text || status);
  }

  // --- messages (#message, a status line, and #alert, an alert) --------------------------

  function clearAlert() {
    $("alert").hidden = true;
    $("alert").replaceChildren();
  }

  function say(text) {
    const el = $("message");
    el.textContent = text;
    el.hidden = !text;
    if (text) clearAlert();
  }

  function alertUser(text, problems) {
    const el = $("alert");
    el.replaceChildren(h("strong", {}, text));
    if (problems && problems.length) el.append(h("ul", {}, problems.map((p) => h("li", {}, p))));
    el.hidden = false;
    $("message").hidden = true;
  }

  // --- the API and its token -------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, problems) {
      super(message);
      this.status = status;
      this.problems = problems || [];
    }
  }

  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
  }

  let memoryToken = storedToken();

  function token() {
    return memoryToken;
  }

  function storeToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch { /* storage disabled: the token lives until the page closes */ }
    memoryToken = value;
    for (const listener of tokenListeners) listener(value);
  }

  function onTokenChange(listener) {
    tokenListeners.push(listener);
  }

  function authHeaders() {
    return memoryToken ? { Authorization: `Bearer ${memoryToken}`, "x-functions-key": memoryToken } : {};
  }

  // The raw response of a request with the session's token; ApiError (with the API's message)
  // when it is not a 2xx.
  async function request(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}), ...authHeaders() };
    let response;
    try {
      response = await fetch(path, { ...options, headers, cache: "no-store", credentials: "same-origin" });
    } catch {
      throw new ApiError(0, "cannot reach the control plane");
    }
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, message, body && body.problems);
    }
    return response;
  }

  async function api(path, options = {}) {
    const response = await request(path, options);
    try { return await response.json(); } catch { return null; }
  }

  // The token dialog (#token-dialog with #token-input): true once a token was saved.
  function askToken() {
    const dialog = $("token-dialog");
    const input = $("token-input");
    input.value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const value = input.value.trim();
        input.value = "";
        if (dialog.returnValue === "save" && value) {
          storeToken(value);
          resolve(true);
        } else {
          resolve(false);
        }
      }, { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  function initTokenDialog() {
    const cancel = $("token-cancel");
    if (cancel) cancel.addEventListener("click", () => $("token-dialog").close("cancel"));
  }

  return {
    $, h, replaceContent, renderIfChanged, fmtWhen, timeEl, pill, say, alertUser,
    ApiError, token, storeToken, onTokenChange, request, api, askToken, initTokenDialog,
  };
})();
