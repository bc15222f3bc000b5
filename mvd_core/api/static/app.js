// The MVD control plane dashboard: plain JavaScript, no build step, no network beyond
// this host's /api. Both hosts (mvd serve, the Functions app) answer the same API.
"use strict";

(() => {
  const FAST_MS = 1000;   // while a run is going
  const IDLE_MS = 5000;   // otherwise
  const HISTORY_LIMIT = 20;

  const ACTION_LABEL = { provision: "Deploy", reset: "Reset", teardown: "Teardown" };
  const SOURCE_LABEL = { timer: "timer", button: "button", webhook: "webhook", cli: "CLI", api: "API", recovery: "recovery" };
  const RUN_STATUS_LABEL = { pending: "pending", running: "running", completed: "completed", failed: "failed" };
  const STEP_ICON = { pending: "○", running: "◐", done: "✓", failed: "✗", skipped: "–" };

  const state = {
    view: null,         // DataspaceView
    runs: [],           // RunSummary[], newest first
    watchId: null,      // the run being followed live
    watched: null,      // its latest RunSummary
    posting: false,     // a POST is in flight
    lastFull: 0,        // when /api/dataspace and /api/runs were last read
    timer: null,
    details: new Map(), // run id -> RunSummary fetched for an opened history entry
    askedForReadToken: false,
  };

  const { $, h, renderIfChanged, timeEl, pill, api, askToken, say, alertUser } = window.MVD;

  // --- formatting ----------------------------------------------------------------------

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60);
    return `${m} min ${Math.round(s - m * 60)} s`;
  }

  function elapsedSince(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : Date.now() - t;
  }

  function isTerminal(run) {
    return run && (run.status === "completed" || run.status === "failed");
  }

  function runDuration(run) {
    if (run.durationMs !== null && run.durationMs !== undefined) return run.durationMs;
    return isTerminal(run) ? null : elapsedSince(run.createdAt);
  }

  function stepDuration(step) {
    if (step.durationMs !== null && step.durationMs !== undefined) return step.durationMs;
    if (step.status === "running" && step.startedAt) return elapsedSince(step.startedAt);
    return null;
  }

  // --- messages ------------------------------------------------------------------------

  function setConnection(text) {
    const el = $("connection");
    if (el.textContent !== text) el.textContent = text;
  }

  // --- dialogs -------------------------------------------------------------------------

  function confirmTeardown() {
    const dialog = $("confirm-dialog");
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $("confirm-no").focus();
    });
  }

  // --- actions -------------------------------------------------------------------------

  function runGoing() {
    return Boolean(state.watchId) || Boolean(state.view && state.view.currentRun);
  }

  function updateButtons() {
    const disabled = state.posting || runGoing();
    for (const btn of document.querySelectorAll("[data-action]")) btn.disabled = disabled;
    $("actions-hint").textContent = disabled
      ? "A run is going; Deploy, Reset and Teardown are available again when it finishes."
      : "Deploy provisions every participant; Reset returns the dataspace to its baseline; Teardown removes the runtimes and DID documents.";
  }

  function updateTokenButton() {
    $("btn-token").textContent = MVD.token() ? "Change API token" : "Set API token";
  }

  async function onAction(action) {
    if (state.posting || runGoing()) return;
    const label = ACTION_LABEL[action];
    const trigger = document.activeElement;
    const byKeyboard = Boolean(trigger && trigger.matches && trigger.matches(":focus-visible"));
    if (action === "teardown" && !(await confirmTeardown())) {
      say("Teardown cancelled.");
      if (trigger) trigger.focus();
      return;
    }
    if (!MVD.token() && !(await askToken())) {
      say(`${label} cancelled: it needs the API token.`);
      if (trigger) trigger.focus();
      return;
    }
    state.posting = true;
    updateButtons();
    try {
      const accepted = await api(`/api/dataspace/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-MVD-Source": "button" },
        body: "{}",
      });
      state.watchId = accepted.runId;
      state.watched = null;
      say(accepted.coalesced
        ? `A run was already going (${accepted.runId}); showing it instead of starting another.`
        : `${label} started: run ${accepted.runId}.`);
      // The clicked button is now disabled; a keyboard user continues at the run's progress.
      if (byKeyboard) $("run-title").focus();
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        MVD.storeToken("");
        alertUser(`The API token was refused (HTTP ${err.status}): ${err.message}. ` +
          "Nothing was started. Click the button again to enter the right token.");
      } else {
        alertUser(`${label} could not start: ${err.message}`, err.problems);
      }
      if (trigger) trigger.focus();
    } finally {
      state.posting = false;
      updateButtons();
      schedule(0);
    }
  }

  // --- participants ----------------------------------------------------------------------

  // The run whose progress the page shows: the one followed live, else the current or last.
  function shownRun() {
    if (state.watched) return state.watched;
    const view = state.view;
    return (view && (view.currentRun || view.lastRun)) || null;
  }

  function isDeployed(pid) {
    const run = shownRun();
    const progress = run && run.participants && run.participants[pid];
    return Boolean(progress) && !(isTerminal(run) && run.action === "teardown" && progress.status === "done");
  }

  function participantPill(pid) {
    const run = shownRun();
    const progress = run && run.participants && run.participants[pid];
    if (!run || !progress) return pill("idle", "not deployed");
    const step = progress.currentStep;
    if (!isTerminal(run)) {
      if (progress.status === "running") return pill("running", step ? `running: ${step}` : "running");
      return pill(progress.status, progress.status);
    }
    if (progress.status === "failed") {
      const failed = (progress.steps || []).find((s) => s.status === "failed");
      return pill("failed", failed ? `failed at ${failed.name}` : "failed");
    }
    if (progress.status === "done") {
      return run.action === "teardown" ? pill("idle", "torn down") : pill("done", "deployed");
    }
    return pill(progress.status, progress.status);
  }

  // What the participant's federated catalog has crawled (GET /api/dataspace: participants[].catalog).
  function catalogFinds(found) {
    if (!found) return null;
    if (found.datasets === null || found.datasets === undefined) {
      return h("span", { class: "res-why", "data-catalog-finds": "" }, found.note || "");
    }
    const sets = found.datasets === 1 ? "dataset" : "datasets";
    const of = found.participants === 1 ? "participant" : "participants";
    return h("span", { class: "res-why", "data-catalog-finds": String(found.datasets) },
      `finds ${found.datasets} ${sets} of ${found.participants} ${of}`);
  }

  function participantCard(p) {
    const rt = p.runtimes || {};
    const catalog = rt.catalog === "standalone" ? "standalone container" : "embedded in the connector";
    let resolves;
    if (p.resolves === true) resolves = h("span", { class: "res res-ok", "data-resolves": "yes" }, "✓ resolves now");
    else if (p.resolves === false && !isDeployed(p.id)) {
      // Nothing published yet (or torn down): expected, not an alarm.
      resolves = h("span", { class: "res", "data-resolves": "no" }, "not published yet",
        h("span", { class: "res-why" }, "Deploy publishes the DID document."));
    } else if (p.resolves === false) {
      resolves = h("span", { class: "res res-no", "data-resolves": "no" }, "✗ does not resolve",
        p.resolveError ? h("span", { class: "res-why" }, p.resolveError) : null);
    } else resolves = h("span", { class: "res", "data-resolves": "unknown" }, "not checked");
    const didHost = p.declaredDidHost && p.declaredDidHost !== p.didHost
      ? `${p.didHost} (declared: ${p.declaredDidHost}, served locally)` : p.didHost;
    return h("li", { class: "card", "data-participant": p.id },
      h("div", { class: "card-head" },
        h("h3", {}, p.displayName),
        participantPill(p.id)),
      h("p", { class: "pid mono" }, p.id),
      h("dl", { class: "facts" },
        h("dt", {}, "Runtimes"),
        h("dd", {},
          h("ul", { class: "runtimes" },
            h("li", {}, `connector × ${rt.connectorReplicas}`),
            h("li", {}, `data plane × ${rt.dataPlaneReplicas}`),
            rt.connectorUi ? h("li", {}, "connector UI") : null)),
        h("dt", {}, "Catalog"),
        h("dd", { "data-field": "catalog", "data-catalog": rt.catalog }, catalog, catalogFinds(p.catalog)),
        h("dt", {}, "Cluster"),
        h("dd", { "data-field": "cluster" }, p.simulated
          ? [h("span", { class: "badge" }, "simulated"),
             p.clusterKind === "simulated" ? " embedded Kubernetes API, not a real cluster" : ` ${p.clusterKind}`]
          : p.clusterKind),
        h("dt", {}, "DID host"),
        h("dd", {}, didHost),
        h("dt", {}, "DID"),
        h("dd", {},
          h("code", { class: "did" }, p.did),
          h("a", { class: "did-link", href: p.didUrl, target: "_blank", rel: "noopener",
                   "data-focus-key": `did-${p.id}` },
            "did.json", h("span", { class: "sr-only" }, ` of ${p.displayName} (opens in a new tab)`))),
        h("dt", {}, "Resolves"),
        h("dd", { "data-field": "resolves" }, resolves)),
      // Only runtimes on this machine have a connector the control plane can call for the page.
      p.clusterKind === "processes"
        ? h("p", { class: "card-actions" },
          h("a", { class: "btn", href: `/participants/${encodeURIComponent(p.id)}`, "data-connector-link": p.id,
                   "data-focus-key": `connector-${p.id}` },
            "Open connector", h("span", { class: "sr-only" }, ` of ${p.displayName}`)))
        : null);
  }

  function renderParticipants() {
    const view = state.view;
    const list = $("participants");
    if (!view) return;
    const run = shownRun();
    const sig = JSON.stringify([view.participants, run && run.id, run && run.status, run && run.participants]);
    renderIfChanged(list, sig, () => view.participants.map(participantCard));
    list.setAttribute("aria-busy", "false");

    const poison = $("poison");
    if (view.poison && view.poison.length) {
      renderIfChanged(poison, JSON.stringify(view.poison), () => [
        h("div", { class: "message message-warn" },
          h("strong", {}, "Commands that could not be processed (poison queue):"),
          h("ul", {}, view.poison.map((c) => h("li", {}, timeEl(c.receivedAt), " ", h("code", {}, c.id), ": ", c.reason))))]);
      poison.hidden = false;
    } else {
      poison.hidden = true;
    }
  }

  // --- a run's per-participant steps ---------------------------------------------------

  function displayName(pid) {
    const p = state.view && state.view.participants.find((x) => x.id === pid);
    return p ? p.displayName : pid;
  }

  function stepChip(step) {
    const dur = fmtDuration(stepDuration(step));
    const label = `${step.name}: ${step.status}${dur ? `, ${dur}` : ""}`;
    return h("li", { class: `chip chip-${step.status}`, "data-step": step.name, "data-status": step.status,
                     title: step.error || step.detail || label, "aria-label": label },
      h("span", { class: "chip-icon", "aria-hidden": "true" }, STEP_ICON[step.status] || "•"),
      h("span", { class: "chip-name", "aria-hidden": "true" }, step.name),
      dur ? h("span", { class: "chip-dur", "aria-hidden": "true" }, dur) : null);
  }

  function participantDuration(progress) {
    let total = 0;
    let any = false;
    for (const step of progress.steps || []) {
      const d = stepDuration(step);
      if (d !== null) { total += d; any = true; }
    }
    return any ? total : null;
  }

  function progressRows(run) {
    const entries = Object.entries(run.participants || {});
    if (!entries.length) return [h("p", { class: "empty" }, isTerminal(run) ? "No per-participant progress was recorded." : "Starting…")];
    const rows = entries.map(([pid, progress]) => {
      const failedSteps = (progress.steps || []).filter((s) => s.status === "failed");
      const errors = failedSteps.map((s) => h("p", { class: "step-error", "data-step": s.name },
        h("strong", {}, `${s.name} failed: `), s.error || "no reason given"));
      if (progress.error && !failedSteps.some((s) => s.error && progress.error.includes(s.error))) {
        errors.push(h("p", { class: "step-error" }, progress.error));
      }
      const dur = fmtDuration(participantDuration(progress));
      return h("li", { class: "prow", "data-participant": pid, "data-status": progress.status },
        h("div", { class: "prow-head" },
          h("h4", {}, displayName(pid), h("span", { class: "mono pid-inline" }, pid)),
          pill(progress.status, progress.status === "running" && progress.currentStep
            ? `running: ${progress.currentStep}` : progress.status),
          dur ? h("span", { class: "prow-dur" }, dur) : null),
        h("ol", { class: "chips", "aria-label": `Steps of ${displayName(pid)}` }, (progress.steps || []).map(stepChip)),
        errors);
    });
    const shown = new Set(entries.map(([pid]) => pid));
    const other = (run.failures || []).filter((f) => !shown.has(f.participant) ||
      !(run.participants[f.participant].steps || []).some((s) => s.name === f.step));
    const extra = other.length ? [h("ul", { class: "failures" }, other.map((f) =>
      h("li", { class: "step-error" }, h("strong", {}, `${f.participant} · ${f.step}: `), f.reason)))] : [];
    return [h("ul", { class: "prows" }, rows), ...extra];
  }

  function runHeader(run) {
    const dur = fmtDuration(runDuration(run));
    return h("div", { class: "run-head" },
      h("p", { class: "run-line" },
        h("strong", {}, ACTION_LABEL[run.action] || run.action),
        " ", pill(run.status, RUN_STATUS_LABEL[run.status] || run.status),
        " started by ", h("span", { "data-field": "source" }, SOURCE_LABEL[run.source] || run.source),
        " at ", timeEl(run.createdAt),
        dur ? [" · ", h("span", { class: "run-dur" }, isTerminal(run) ? `took ${dur}` : `${dur} so far`)] : null,
        run.coalesced ? ` · answered ${run.coalesced} more command(s)` : null),
      h("p", { class: "run-id mono" }, run.id));
  }

  function renderRun() {
    const run = shownRun();
    const panel = $("run");
    const title = $("run-title");
    const going = run && !isTerminal(run);
    title.textContent = going ? "Current run" : run ? "Last run" : "Current run";
    $("run-panel").setAttribute("aria-busy", going ? "true" : "false");
    $("run-panel").dataset.runId = run ? run.id : "";
    $("run-panel").dataset.status = run ? run.status : "";
    if (!run) {
      renderIfChanged(panel, "none", () => [h("p", { class: "empty" }, "No run yet. Click Deploy to provision the dataspace.")]);
      return;
    }
    // Running steps show a live duration, so a going run re-renders every tick.
    const sig = going ? `${Date.now()}` : JSON.stringify(run);
    renderIfChanged(panel, sig, () => [runHeader(run), ...progressRows(run)]);
  }

  // --- history -------------------------------------------------------------------------

  function historySummary(run) {
    const dur = fmtDuration(runDuration(run));
    return [
      h("span", { class: "h-when" }, timeEl(run.createdAt)),
      h("span", { class: "h-action" }, ACTION_LABEL[run.action] || run.action),
      h("span", { class: "h-source" }, h("span", { class: "sr-only" }, "started by "), SOURCE_LABEL[run.source] || run.source),
      h("span", { class: "h-outcome" }, pill(run.status, RUN_STATUS_LABEL[run.status] || run.status)),
      h("span", { class: "h-dur" }, dur ? (isTerminal(run) ? dur : `${dur} so far`) : "—"),
    ];
  }

  // Onboarded participants the run removed (a reset removes them all).
  function removedRows(run) {
    const removed = run.removed || [];
    if (!removed.length) return [];
    return [h("ul", { class: "run-removed", "aria-label": "Onboarded participants this run removed" },
      removed.map((r) => h("li", { "data-did": r.did }, `Removed ${r.participantId} (${r.did}), joined `,
        timeEl(r.joinedAt), r.revoked ? "; its credentials revoked" : "; its credentials not revoked yet")))];
  }

  function historyDetail(run) {
    return [h("p", { class: "run-id mono" }, run.id), ...progressRows(run), ...removedRows(run)];
  }

  async function loadDetail(item, id) {
    const body = item.querySelector(".detail");
    try {
      const run = await api(`/api/runs/${encodeURIComponent(id)}`);
      state.details.set(id, run);
      renderIfChanged(body, JSON.stringify(run), () => historyDetail(run));
    } catch (err) {
      renderIfChanged(body, `error:${err.message}`, () => [h("p", { class: "step-error" }, `Could not load run ${id}: ${err.message}`)]);
    }
  }

  function historyItem(run) {
    const summary = h("summary", { "data-focus-key": `run-${run.id}` });
    const details = h("details", { "data-run-id": run.id }, summary, h("div", { class: "detail" }, h("p", { class: "empty" }, "Loading…")));
    const item = h("li", { class: "history-item", "data-run-id": run.id, "data-action": run.action,
                           "data-source": run.source, "data-status": run.status }, details);
    details.addEventListener("toggle", () => { if (details.open) loadDetail(item, run.id); });
    return item;
  }

  function renderHistory() {
    const list = $("history");
    const byId = new Map([...list.children].map((li) => [li.dataset.runId, li]));
    const wanted = state.runs.map((run) => {
      const item = byId.get(run.id) || historyItem(run);
      item.dataset.status = run.status;
      const summary = item.querySelector("summary");
      const sig = JSON.stringify([run.status, run.durationMs, isTerminal(run) ? 0 : Math.floor(Date.now() / 1000)]);
      if (summary.dataset.sig !== sig) {
        summary.dataset.sig = sig;
        summary.replaceChildren(...historySummary(run));
      }
      const details = item.querySelector("details");
      if (details.open) {
        const cached = state.details.get(run.id);
        if (!cached || !isTerminal(cached)) loadDetail(item, run.id);
      }
      return item;
    });
    const keep = new Set(wanted);
    for (const li of [...list.children]) if (!keep.has(li)) li.remove();
    wanted.forEach((item, i) => {
      // Only move what is out of place: moving a node would drop the focus inside it.
      if (list.children[i] !== item) list.insertBefore(item, list.children[i] || null);
    });
    $("history-empty").hidden = state.runs.length > 0;
  }

  // --- the dataspace header --------------------------------------------------------------

  function renderHeader() {
    const view = state.view;
    if (!view) return;
    $("dataspace-title").textContent = view.displayName || view.name;
    document.title = `${view.displayName || view.name} · MVD control plane`;
    const simulated = view.participants.filter((p) => p.simulated).length;
    const meta = $("dataspace-meta");
    renderIfChanged(meta, JSON.stringify([view.name, view.targets, view.resetSchedule, simulated]), () => [
      h("span", { class: "mono" }, view.name),
      " · targets ", h("strong", {}, view.targets),
      " · nightly reset ", h("span", { class: "mono" }, view.resetSchedule),
      ...(simulated ? [" · ", h("span", { class: "badge" }, `${simulated} simulated cluster${simulated === 1 ? "" : "s"}`)] : []),
    ]);
  }

  function render() {
    renderHeader();
    renderParticipants();
    renderRun();
    renderHistory();
    updateButtons();
  }

  // --- polling -------------------------------------------------------------------------

  async function refreshAll() {
    const [view, list] = await Promise.all([api("/api/dataspace"), api(`/api/runs?limit=${HISTORY_LIMIT}`)]);
    state.view = view;
    state.runs = list.runs || [];
    state.lastFull = Date.now();
    if (view.currentRun && !state.watchId) {
      state.watchId = view.currentRun.id;  // a run started elsewhere (timer, CLI, webhook)
    }
  }

  async function refreshWatched() {
    const run = await api(`/api/runs/${encodeURIComponent(state.watchId)}`);
    state.watched = run;
    if (isTerminal(run)) {
      const label = ACTION_LABEL[run.action] || run.action;
      if (run.status === "completed") say(`${label} completed (run ${run.id}).`);
      else {
        const failed = Object.values(run.participants || {}).filter((p) => p.status === "failed");
        const where = failed.map((p) => {
          const step = (p.steps || []).find((s) => s.status === "failed");
          return step ? `${p.participant} at ${step.name}` : p.participant;
        });
        alertUser(`${label} failed (run ${run.id})${where.length ? `: ${where.join(", ")}` : ""}. The errors are under “Last run”.`);
      }
      state.watchId = null;
      await refreshAll();  // DIDs resolve (or not) now; the history has the outcome
      state.watched = state.runs.find((r) => r.id === run.id) || run;
      return;
    }
  }

  async function tick() {
    state.timer = null;
    try {
      if (!state.view || Date.now() - state.lastFull >= IDLE_MS || !state.watchId) await refreshAll();
      if (state.watchId) await refreshWatched();
      else if (state.watched && state.view && state.view.lastRun && state.view.lastRun.id !== state.watched.id) {
        state.watched = null;  // a newer run finished elsewhere; show that one
      }
      setConnection("");
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        // The Functions host wants its key even for reads: ask once, on the first refusal.
        setConnection(MVD.token() ? "The API token was refused for reading; set the right one." : "This host needs the API token to read; use “Set API token”.");
        if (!MVD.token() && !state.askedForReadToken && !$("token-dialog").open) {
          state.askedForReadToken = true;
          askToken().then((ok) => { if (ok) schedule(0); });
        }
      } else if (err.status === 404 && state.watchId) {
        state.watchId = null;
      } else {
        setConnection(`Cannot load the dashboard data (${err.message}); retrying…`);
      }
    }
    render();
    schedule(state.watchId ? FAST_MS : IDLE_MS);
  }

  function schedule(ms) {
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(tick, ms);
  }

  // --- start ---------------------------------------------------------------------------

  function init() {
    for (const btn of document.querySelectorAll("[data-action]")) {
      btn.addEventListener("click", () => onAction(btn.dataset.action));
    }
    $("btn-token").addEventListener("click", async () => {
      if (await askToken()) say("API token saved for this browser session.");
      $("btn-token").focus();
    });
    MVD.initTokenDialog();
    MVD.onTokenChange(updateTokenButton);
    $("run-title").setAttribute("tabindex", "-1");
    updateTokenButton();
    updateButtons();
    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
