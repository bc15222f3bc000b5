// A participant's connector UI: its catalog of the dataspace, negotiate, transfer, see the data,
// the history of negotiations and transfers, its own assets. Everything goes through this
// host's /api/participants/<participant>/connector/ (the server holds the management API key).
"use strict";

(() => {
  const { $, h, renderIfChanged, timeEl, pill, ApiError, api, request, askToken, say, alertUser } = window.MVD;

  const HISTORY_MS = 5000;        // how often the history is read again
  const POLL_MS = 1000;           // a negotiation or transfer in progress
  const POLL_DEADLINE_MS = 180000;
  const PREVIEW_CHARS = 64 * 1024;

  const pid = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const base = `/api/participants/${encodeURIComponent(pid)}/connector`;

  const state = {
    names: new Map(),      // participant id -> display name
    negotiations: [],
    transfers: [],
    flow: null,            // {provider, datasetId, title, negotiation, transfer, data, error}
    busy: false,           // a negotiation or transfer is being started or followed
    timer: null,
    askedForReadToken: false,
    saveUrl: null,
  };

  const FINAL_NEGOTIATION = new Set(["FINALIZED", "TERMINATED"]);
  const FINAL_TRANSFER = new Set(["STARTED", "COMPLETED", "TERMINATED", "SUSPENDED"]);

  // --- names and states ------------------------------------------------------------------

  function nameOf(id) {
    return (id && state.names.get(id)) || id || "unknown";
  }

  function stateClass(edcState) {
    if (edcState === "FINALIZED" || edcState === "STARTED" || edcState === "COMPLETED") return "done";
    if (edcState === "TERMINATED") return "failed";
    return "running";
  }

  function edcPill(edcState) {
    return pill(stateClass(edcState), edcState);
  }

  function errorLine(what, err) {
    return h("p", { class: "step-error", "data-error": err.status || 0 }, `${what}: ${err.message}`);
  }

  // --- the token ---------------------------------------------------------------------------

  function updateTokenButton() {
    $("btn-token").textContent = MVD.token() ? "Change API token" : "Set API token";
  }

  async function ensureToken(what) {
    if (MVD.token()) return true;
    if (await askToken()) return true;
    say(`${what} cancelled: it needs the API token.`);
    return false;
  }

  function refusedToken(err, what) {
    if (err.status !== 401 && err.status !== 403) return false;
    MVD.storeToken("");
    alertUser(`The API token was refused (HTTP ${err.status}): ${err.message}. ${what} did not start; ` +
      "try again to enter the right token.");
    return true;
  }

  // --- reads -------------------------------------------------------------------------------

  // A read; where this host wants the token for reading too, the first refusal asks for it once,
  // and once it is given every section is read again.
  async function readOrAsk(path) {
    try {
      return await api(path);
    } catch (err) {
      if ((err.status === 401 || err.status === 403) && !MVD.token() && !state.askedForReadToken) {
        state.askedForReadToken = true;
        if (await askToken()) {
          setTimeout(loadAll, 0);
          return api(path);
        }
      }
      throw err;
    }
  }

  async function loadHeader() {
    try {
      const view = await readOrAsk("/api/dataspace");
      for (const p of view.participants) state.names.set(p.id, p.displayName);
      const me = view.participants.find((p) => p.id === pid);
      if (!me) {
        $("participant-title").textContent = pid || "Unknown participant";
        $("participant-meta").textContent = `No participant ${JSON.stringify(pid)} in this dataspace.`;
        return;
      }
      $("participant-title").textContent = me.displayName;
      document.title = `${me.displayName} · Connector · MVD control plane`;
      $("participant-meta").replaceChildren(
        h("span", { class: "mono" }, me.id), " · ", h("code", { class: "did" }, me.did));
    } catch (err) {
      $("participant-title").textContent = pid;
      $("participant-meta").textContent = `Cannot load the dataspace: ${err.message}`;
    }
  }

  function datasetItem(provider, dataset) {
    const title = dataset.title || dataset.id;
    const negotiable = Boolean(dataset.offerId);
    return h("li", { class: "dataset", "data-dataset": dataset.id, "data-provider": provider.participant },
      h("div", { class: "dataset-head" },
        h("h4", {}, title),
        dataset.contentType ? h("span", { class: "badge" }, dataset.contentType) : null),
      h("p", { class: "mono pid" }, dataset.id),
      dataset.description ? h("p", { class: "dataset-desc" }, dataset.description) : null,
      h("p", { class: "hint" }, dataset.transferTypes.length
        ? `Transfer types: ${dataset.transferTypes.join(", ")}` : "No transfer type offered."),
      h("button", {
        type: "button", class: "btn btn-primary", "data-negotiate": dataset.id,
        "data-focus-key": `negotiate-${provider.participant}-${dataset.id}`,
        "aria-label": `Negotiate ${title} from ${provider.displayName}`,
        disabled: !negotiable || state.busy,
        onclick: () => negotiate(provider, dataset),
      }, negotiable ? "Negotiate" : "No offer"));
  }

  function providerBlock(provider) {
    let body;
    if (provider.error) body = h("p", { class: "step-error" }, `Cannot read its catalog: ${provider.error}`);
    else if (!provider.datasets.length) body = h("p", { class: "empty" }, "It offers this participant no dataset.");
    else body = h("ul", { class: "datasets" }, provider.datasets.map((d) => datasetItem(provider, d)));
    return h("section", { class: "provider", "data-provider": provider.participant,
                          "aria-labelledby": `provider-${provider.participant}` },
      h("h3", { id: `provider-${provider.participant}` }, provider.displayName,
        h("span", { class: "mono pid-inline" }, provider.participant)),
      h("p", { class: "mono did" }, provider.did),
      body);
  }

  let lastCatalog = null;

  function renderCatalog() {
    const container = $("catalog");
    if (!lastCatalog) return;
    if (lastCatalog.error) {
      renderIfChanged(container, `error:${lastCatalog.error.message}`,
        () => [errorLine("Cannot load the catalog", lastCatalog.error)]);
    } else if (!lastCatalog.providers.length) {
      renderIfChanged(container, "none", () => [h("p", { class: "empty" }, "There is no other participant.")]);
    } else {
      renderIfChanged(container, JSON.stringify([lastCatalog.providers, state.busy]),
        () => lastCatalog.providers.map(providerBlock));
    }
    container.setAttribute("aria-busy", "false");
  }

  async function loadCatalog() {
    const container = $("catalog");
    container.setAttribute("aria-busy", "true");
    $("btn-catalog").disabled = true;
    container.dataset.sig = "";
    container.replaceChildren(h("p", { class: "empty" }, "Requesting the catalog of every other participant…"));
    try {
      const answer = await readOrAsk(`${base}/catalog`);
      for (const p of answer.providers) state.names.set(p.participant, p.displayName);
      lastCatalog = { providers: answer.providers };
    } catch (err) {
      lastCatalog = { error: err };
    }
    $("btn-catalog").disabled = false;
    renderCatalog();
  }

  function negotiationRow(n) {
    const canTransfer = n.state === "FINALIZED" && n.role === "consumer" && n.agreementId;
    return h("li", { class: "hrow", "data-negotiation": n.id, "data-state": n.state },
      h("span", { class: "h-when" }, n.createdAt ? timeEl(n.createdAt) : "—"),
      h("span", {}, n.role === "provider" ? "from " : "with ", nameOf(n.counterParty || n.counterPartyDid)),
      h("span", {}, edcPill(n.state)),
      h("span", { class: "mono small" }, n.agreementId ? `agreement ${n.agreementId}` : n.id),
      h("span", {}, canTransfer ? h("button", {
        type: "button", class: "btn", "data-transfer-agreement": n.agreementId, disabled: state.busy,
        "data-focus-key": `transfer-${n.id}`,
        "aria-label": `Transfer under agreement ${n.agreementId}`,
        onclick: () => transfer(n.agreementId, null),
      }, "Transfer") : null),
      n.errorDetail ? h("p", { class: "step-error" }, n.errorDetail) : null);
  }

  function transferRow(t) {
    return h("li", { class: "hrow", "data-transfer": t.id, "data-state": t.state },
      h("span", { class: "h-when" }, t.updatedAt ? timeEl(t.updatedAt) : "—"),
      h("span", {}, t.assetId || "—", " ", t.role === "provider" ? "to " : "from ", nameOf(t.counterParty)),
      h("span", {}, edcPill(t.state)),
      h("span", { class: "mono small" }, t.transferType || "", " ", t.id),
      h("span", {}, t.dataUrl ? h("button", {
        type: "button", class: "btn", "data-show-data": t.id, "data-focus-key": `data-${t.id}`,
        "aria-label": `Show the data of transfer ${t.id}`,
        onclick: () => showData(t),
      }, "Show data") : null),
      t.errorDetail ? h("p", { class: "step-error" }, t.errorDetail) : null);
  }

  function renderList(container, items, empty, row) {
    container.setAttribute("aria-busy", "false");
    if (items instanceof Error) {
      renderIfChanged(container, `error:${items.message}`, () => [errorLine("Cannot load them", items)]);
      return;
    }
    if (!items.length) {
      renderIfChanged(container, "empty", () => [h("p", { class: "empty" }, empty)]);
      return;
    }
    renderIfChanged(container, JSON.stringify([items, state.busy, [...state.names]]),
      () => [h("ul", { class: "hlist" }, items.map(row))]);
  }

  async function loadHistory() {
    const [negotiations, transfers] = await Promise.all([
      readOrAsk(`${base}/negotiations`).then((a) => a.negotiations, (err) => err),
      readOrAsk(`${base}/transfers`).then((a) => a.transfers, (err) => err),
    ]);
    state.negotiations = negotiations;
    state.transfers = transfers;
    renderList($("negotiations"), negotiations, "No negotiations yet.", negotiationRow);
    renderList($("transfers"), transfers, "No transfers yet.", transferRow);
  }

  function assetItem(asset) {
    const props = asset.properties || {};
    const title = props.name || props.title || asset.id;
    return h("li", { class: "dataset", "data-asset": asset.id },
      h("div", { class: "dataset-head" }, h("h4", {}, title),
        props.contenttype ? h("span", { class: "badge" }, props.contenttype) : null),
      h("p", { class: "mono pid" }, asset.id),
      props.description ? h("p", { class: "dataset-desc" }, props.description) : null);
  }

  async function loadAssets() {
    const container = $("assets");
    let assets;
    try {
      assets = (await readOrAsk(`${base}/assets`)).assets;
    } catch (err) {
      assets = err;
    }
    container.setAttribute("aria-busy", "false");
    if (assets instanceof Error) {
      renderIfChanged(container, `error:${assets.message}`, () => [errorLine("Cannot load its assets", assets)]);
    } else if (!assets.length) {
      renderIfChanged(container, "empty", () => [h("p", { class: "empty" }, "It offers no asset.")]);
    } else {
      renderIfChanged(container, JSON.stringify(assets), () => [h("ul", { class: "datasets" }, assets.map(assetItem))]);
    }
  }

  // --- the exchange: negotiate, transfer, data --------------------------------------------

  function step(name, label, body, id) {
    return h("li", { class: "xstep", "data-step": name, "data-id": id || null }, h("h3", {}, label), body);
  }

  function renderExchange() {
    const flow = state.flow;
    const container = $("exchange");
    if (!flow) return;
    const steps = [];
    const n = flow.negotiation;
    steps.push(step("negotiation", `Negotiate ${flow.title || flow.datasetId || "the agreement"}` +
      (flow.provider ? ` with ${nameOf(flow.provider)}` : ""),
      n ? [h("p", { "data-state": n.state }, edcPill(n.state), " ",
        n.state === "FINALIZED" ? `agreement ${n.agreementId}` : n.state === "TERMINATED"
          ? (n.errorDetail || "terminated by a party") : "waiting for the provider…"),
      h("p", { class: "mono small" }, `negotiation ${n.id}`)]
        : flow.agreementId ? h("p", {}, `agreement ${flow.agreementId}`)
          : h("p", { class: "empty" }, "Starting…"), n && n.id));
    const agreement = flow.agreementId || (n && n.state === "FINALIZED" && n.agreementId);
    if (agreement) {
      const t = flow.transfer;
      steps.push(step("transfer", "Transfer (HTTP pull)",
        t ? [h("p", { "data-state": t.state }, edcPill(t.state), " ",
          t.state === "STARTED" ? "the provider's data plane serves the data"
            : t.state === "TERMINATED" ? (t.errorDetail || "terminated") : "waiting for the provider…"),
        h("p", { class: "mono small" }, `transfer ${t.id}`)]
          : h("button", {
            type: "button", class: "btn btn-primary", id: "btn-transfer", "data-focus-key": "btn-transfer",
            disabled: state.busy, onclick: () => transfer(agreement, flow),
          }, "Start transfer"), t && t.id));
    }
    if (flow.transfer && flow.transfer.state === "STARTED") {
      steps.push(step("data", "Data",
        flow.data ? h("p", { "data-bytes": flow.data.size }, `${flow.data.size} bytes received; shown under Data.`)
          : h("p", { class: "empty" }, "Fetching…")));
    }
    if (flow.error) steps.push(h("li", { class: "xstep" }, errorLine("Stopped", flow.error)));
    renderIfChanged(container, JSON.stringify([flow.negotiation, flow.transfer, flow.data && flow.data.size,
      flow.error && flow.error.message, state.busy]), () => [h("ol", { class: "xsteps" }, steps)]);
    container.dataset.state = flow.error ? "failed" : flow.data ? "data" : (flow.transfer || flow.negotiation || {}).state || "starting";
  }

  function setBusy(busy) {
    state.busy = busy;
    renderCatalog();
    renderList($("negotiations"), state.negotiations, "No negotiations yet.", negotiationRow);
    renderList($("transfers"), state.transfers, "No transfers yet.", transferRow);
    renderExchange();
  }

  // Poll ``path`` until the answer's state is in ``done``; each answer goes to ``seen``.
  async function follow(path, done, seen) {
    const deadline = Date.now() + POLL_DEADLINE_MS;
    for (;;) {
      const current = await api(path);
      seen(current);
      if (done.has(current.state)) return current;
      if (Date.now() > deadline) {
        throw new ApiError(0, `still ${current.state} after ${POLL_DEADLINE_MS / 1000} s; see the history below`);
      }
      await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
    }
  }

  async function negotiate(provider, dataset) {
    if (state.busy || !(await ensureToken("Negotiating"))) return;
    state.flow = { provider: provider.participant, datasetId: dataset.id, title: dataset.title || dataset.id };
    $("exchange-title").focus();
    setBusy(true);
    say(`Negotiating ${dataset.title || dataset.id} with ${provider.displayName}…`);
    try {
      const started = await api(`${base}/negotiations`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ provider: provider.participant, datasetId: dataset.id }),
      });
      state.flow.negotiation = started;
      renderExchange();
      const settled = await follow(`${base}/negotiations/${encodeURIComponent(started.id)}`, FINAL_NEGOTIATION,
        (n) => { state.flow.negotiation = n; renderExchange(); });
      if (settled.state === "FINALIZED") say(`Agreement ${settled.agreementId} with ${provider.displayName}. Start the transfer.`);
      else alertUser(`The negotiation was terminated: ${settled.errorDetail || "no reason given"}.`);
    } catch (err) {
      if (!refusedToken(err, "The negotiation")) {
        state.flow.error = err;
        alertUser(`The negotiation failed: ${err.message}`, err.problems);
      }
    } finally {
      setBusy(false);
      loadHistory();
      const next = $("btn-transfer");
      if (next) next.focus();
    }
  }

  async function transfer(agreementId, flow) {
    if (state.busy || !(await ensureToken("The transfer"))) return;
    if (!flow) {
      const made = (Array.isArray(state.negotiations) ? state.negotiations : []).find((n) => n.agreementId === agreementId);
      state.flow = { provider: made && made.counterParty, agreementId, negotiation: made || null,
                     title: null, datasetId: null };
    }
    $("exchange-title").focus();
    setBusy(true);
    say("Starting the transfer…");
    try {
      const started = await api(`${base}/transfers`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ agreementId }),
      });
      state.flow.transfer = started;
      renderExchange();
      const settled = await follow(`${base}/transfers/${encodeURIComponent(started.id)}`, FINAL_TRANSFER,
        (t) => { state.flow.transfer = t; renderExchange(); });
      if (settled.state !== "STARTED" || !settled.dataUrl) {
        alertUser(`The transfer is ${settled.state}${settled.errorDetail ? `: ${settled.errorDetail}` : ""}.`);
        return;
      }
      say("The transfer started; fetching the data…");
      state.flow.data = await fetchData(settled);
      renderExchange();
      say(`Received ${state.flow.data.size} bytes.`);
    } catch (err) {
      if (!refusedToken(err, "The transfer")) {
        state.flow.error = err;
        alertUser(`The transfer failed: ${err.message}`, err.problems);
      }
    } finally {
      setBusy(false);
      loadHistory();
    }
  }

  function filenameOf(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(header);
    return match ? match[1] : fallback;
  }

  // The transfer's bytes through the control plane, shown under Data; returns the Blob.
  async function fetchData(transferView) {
    const response = await request(transferView.dataUrl, { headers: { Accept: "*/*" } });
    const blob = await response.blob();
    const mediaType = (response.headers.get("Content-Type") || "application/octet-stream").split(";")[0];
    renderData(transferView, blob, mediaType, filenameOf(response, `${transferView.assetId || transferView.id}.bin`),
      await blob.arrayBuffer());
    return blob;
  }

  function renderData(transferView, blob, mediaType, filename, buffer) {
    let text = null;
    try { text = new TextDecoder("utf-8", { fatal: true }).decode(buffer); } catch { text = null; }
    if (state.saveUrl) URL.revokeObjectURL(state.saveUrl);
    state.saveUrl = URL.createObjectURL(blob);
    const preview = text === null
      ? h("p", { class: "empty" }, "Binary data: save it to look at it.")
      : h("pre", { class: "data-preview", id: "data-preview", tabindex: "0",
                   "aria-label": `The data of ${transferView.assetId || transferView.id}` },
        text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}\n…` : text);
    $("data").replaceChildren(...[
      h("p", { class: "data-meta", "data-transfer": transferView.id, "data-bytes": blob.size },
        h("strong", {}, transferView.assetId || "data"), ` · ${blob.size} bytes · ${mediaType}`,
        ` · from ${nameOf(transferView.counterParty)} · transfer `, h("span", { class: "mono" }, transferView.id)),
      text !== null && text.length > PREVIEW_CHARS ? h("p", { class: "hint" }, `The first ${PREVIEW_CHARS} characters:`) : null,
      preview,
      h("p", {}, h("a", { class: "btn", href: state.saveUrl, download: filename, id: "data-save" }, `Save as ${filename}`)),
    ].filter(Boolean));
    $("data-panel").hidden = false;
  }

  async function showData(transferView) {
    try {
      await fetchData(transferView);
      $("data-title").focus();
    } catch (err) {
      alertUser(`Cannot get the data of transfer ${transferView.id}: ${err.message}`);
    }
  }

  // --- start ---------------------------------------------------------------------------------

  function schedule() {
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      if (!state.busy) await loadHistory();
      schedule();
    }, HISTORY_MS);
  }

  async function init() {
    MVD.initTokenDialog();
    MVD.onTokenChange(updateTokenButton);
    updateTokenButton();
    $("btn-token").addEventListener("click", async () => {
      if (await askToken()) say("API token saved for this browser session.");
      $("btn-token").focus();
    });
    $("btn-catalog").addEventListener("click", () => loadCatalog());
    await loadAll();
    schedule();
  }

  async function loadAll() {
    await loadHeader();
    await Promise.all([loadCatalog(), loadHistory(), loadAssets()]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
