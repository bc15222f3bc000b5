// The dashboard's Onboarding panel: who joined since the last reset (and when the next reset
// removes them), the latest removals, and the join form, which shows every check of a join with
// what it found. Reads GET /api/participants; joins with POST /api/participants (public);
// removes with DELETE /api/participants/{did} (asks for the API token).
"use strict";

(() => {
  const { $, h, api, request, timeEl, ApiError } = MVD;
  const REFRESH_MS = 10000;
  let view = null;

  function checkItem(check) {
    return h("li", { class: check.ok ? "check check-ok" : "check check-failed", "data-check": check.name },
      h("span", { class: "check-mark", "aria-hidden": "true" }, check.ok ? "✓" : "✗"),
      h("strong", {}, check.name), " ",
      h("span", { class: "sr-only" }, check.ok ? "passed: " : "failed: "),
      h("span", { class: "check-detail" }, check.detail));
  }

  function showResult(status, body) {
    const result = $("join-result");
    const checks = (body && Array.isArray(body.checks)) ? body.checks : [];
    const nodes = [];
    if (body && body.participant) {
      const p = body.participant;
      nodes.push(h("p", { class: "message", id: "join-outcome", "data-outcome": "joined" },
        `Joined as ${p.id}`, p.removesAt ? [" until the next reset (", timeEl(p.removesAt), ")."] : "."));
    } else {
      const why = (body && body.error) || `HTTP ${status}`;
      nodes.push(h("p", { class: "message message-error", id: "join-outcome", "data-outcome": "refused" },
        `Refused (${status}): ${why}`));
    }
    if (checks.length) nodes.push(h("ol", { class: "checks", "aria-label": "Checks of this join" }, checks.map(checkItem)));
    result.replaceChildren(...nodes);
  }

  async function onJoin(event) {
    event.preventDefault();
    const did = $("join-did").value.trim();
    const invite = $("join-invite").value.trim();
    if (!did) return;
    const button = $("join-submit");
    button.disabled = true;
    $("join-result").replaceChildren(h("p", { class: "hint" }, "Checking…"));
    try {
      const response = await fetch("/api/participants", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(invite ? { did, invite } : { did }),
        cache: "no-store",
        credentials: "same-origin",
      });
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      showResult(response.status, body);
      if (response.ok) $("join-invite").value = "";
      await refresh();
    } catch {
      showResult(0, { error: "cannot reach the control plane", checks: [] });
    } finally {
      button.disabled = false;
    }
  }

  async function onRemove(did) {
    if (!MVD.token() && !(await MVD.askToken())) return;
    try {
      await request(`/api/participants/${encodeURIComponent(did)}`, { method: "DELETE" });
      MVD.say(`${did} was removed and its credentials revoked.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        MVD.storeToken("");
        MVD.alertUser("The API token was refused. Set the right one and try again.");
      } else {
        MVD.alertUser(err.message || "could not remove the participant");
      }
    }
    await refresh();
  }

  function onboardedItem(p) {
    return h("li", { class: "onboarded-item", "data-did": p.did },
      h("div", {},
        h("strong", {}, p.id), " ", h("code", { class: "did" }, p.did),
        h("p", { class: "meta" }, "Joined ", timeEl(p.joinedAt),
          p.removesAt ? ["; removed by the next reset at ", timeEl(p.removesAt)] : "")),
      h("button", { type: "button", class: "btn btn-quiet", "data-focus-key": `remove-${p.did}`,
        "aria-label": `Remove ${p.id}`, onclick: () => onRemove(p.did) }, "Remove"));
  }

  function removedItem(p) {
    return h("li", { class: "removed-item", "data-did": p.did },
      h("strong", {}, p.id), " ", h("code", { class: "did" }, p.did), " left ", timeEl(p.removedAt),
      p.removedBy === "api" ? " (removed by hand)" : ` (removed by ${p.removedBy})`);
  }

  function render() {
    if (!view) return;
    const onboarded = view.participants.filter((p) => p.kind === "onboarded");
    const how = { open: "open to anyone with a did:web DID", invite: "by invite token", closed: "closed" }[view.onboarding];
    const reset = view.nextReset ? ["The next reset (", timeEl(view.nextReset), ") removes every onboarded participant."] : [];
    $("onboarding-meta").replaceChildren(
      `Onboarding is ${how || view.onboarding}: ${view.onboarded} of ${view.cap} places taken. `, ...reset);
    $("join-invite-field").hidden = view.onboarding !== "invite";
    $("join-form").hidden = view.onboarding === "closed";
    MVD.renderIfChanged($("onboarded"), JSON.stringify(onboarded), () => onboarded.map(onboardedItem));
    $("onboarded-empty").hidden = onboarded.length > 0;
    MVD.renderIfChanged($("removed"), JSON.stringify(view.removed), () => view.removed.map(removedItem));
    $("removed-block").hidden = view.removed.length === 0;
    $("onboarded").setAttribute("aria-busy", "false");
  }

  async function refresh() {
    try {
      view = await api("/api/participants");
      render();
    } catch (err) {
      $("onboarding-meta").textContent = `Cannot read the participants: ${err.message}`;
    }
  }

  function init() {
    $("join-form").addEventListener("submit", onJoin);
    refresh();
    setInterval(refresh, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
