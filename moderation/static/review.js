// The review page: decisions through the JSON API without a reload, bulk actions, keys.
// Served by the app itself; the page's CSP allows no inline script, so all of it is here.
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  if (page !== "queue" && page !== "detail") return;

  const apiRoot = body.dataset.apiRoot || "/api/v1";
  const listStatus = body.dataset.status; // the tab shown ("all" keeps every card)
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";
  const cardsRoot = document.getElementById("cards");
  const flash = document.getElementById("flash");
  const empty = document.getElementById("empty");
  const selectAll = document.getElementById("select-all");
  const selectedCount = document.getElementById("selected-count");
  const keysDialog = document.getElementById("keys-help");
  const STATUS_LABELS = { pending: "Pending", approved: "Approved", rejected: "Rejected", spam: "Spam" };
  const DONE = { approve: "approved", reject: "rejected", spam: "marked as spam" };
  let current = null;
  let flashTimer = null;

  // --- talking to the API ---

  function describeProblem(status, problem) {
    if (status === 401) return "Your session has ended: sign in again (reload the page).";
    if (status === 400 && problem && problem.type === "/problems/csrf") {
      return "The page's security token expired: reload the page and try again.";
    }
    if (problem && typeof problem.detail === "string" && problem.detail) {
      let text = problem.detail;
      if (problem.errors && typeof problem.errors === "object") {
        const parts = Object.entries(problem.errors).map(
          ([key, messages]) => `${/^\d+$/.test(key) ? "#" + key : key}: ${[].concat(messages).join("; ")}`
        );
        if (parts.length) text += " " + parts.join(" · ");
      }
      return text;
    }
    return `The server answered ${status}; nothing was changed.`;
  }

  async function postJson(url, payload) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken,
        },
        body: JSON.stringify(payload),
      });
    } catch (networkError) {
      const error = new Error("The server could not be reached; nothing was changed. Try again.");
      error.status = 0;
      throw error;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (parseError) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error(describeProblem(response.status, data));
      error.status = response.status;
      error.problem = data;
      throw error;
    }
    return data;
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`The server answered ${response.status}.`);
    return response.json();
  }

  // --- messages ---

  function say(text, kind) {
    if (!flash) return;
    window.clearTimeout(flashTimer);
    flash.textContent = text;
    flash.dataset.kind = kind;
    flash.hidden = false;
    if (kind === "ok") flashTimer = window.setTimeout(() => { flash.hidden = true; }, 6000);
  }

  function cardError(card, text) {
    const box = card.querySelector('[data-role="error"]');
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
    card.classList.toggle("has-error", Boolean(text));
  }

  // --- cards and selection ---

  function cards() {
    return cardsRoot ? Array.from(cardsRoot.querySelectorAll(":scope > .card")) : [];
  }

  function setCurrent(card, focus = true) {
    if (current) current.classList.remove("is-current");
    current = card;
    if (!card) return;
    card.classList.add("is-current");
    if (focus) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest", behavior: "auto" });
    }
  }

  function move(step) {
    const list = cards();
    if (!list.length) return;
    const index = list.indexOf(current);
    const next = index < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + step));
    setCurrent(list[next]);
  }

  function selectedCards() {
    return cards().filter((card) => {
      const box = card.querySelector(".select");
      return box && box.checked;
    });
  }

  function updateSelection() {
    const list = cards();
    const chosen = selectedCards().length;
    if (selectedCount) selectedCount.textContent = `${chosen} selected`;
    if (selectAll) {
      selectAll.checked = list.length > 0 && chosen === list.length;
      selectAll.indeterminate = chosen > 0 && chosen < list.length;
      selectAll.disabled = list.length === 0;
    }
    document.querySelectorAll("[data-bulk]").forEach((button) => { button.disabled = chosen === 0; });
    list.forEach((card) => {
      const box = card.querySelector(".select");
      card.classList.toggle("is-selected", Boolean(box && box.checked));
    });
  }

  function adjustCount(status, delta) {
    for (const key of [status, "all"]) {
      const badge = document.querySelector(`[data-count="${key}"]`);
      // A capped count ("10,000+") is a lower bound: leave it alone.
      if (!badge || badge.hasAttribute("data-capped")) continue;
      const value = Number(badge.textContent.replace(/[^0-9]/g, ""));
      badge.textContent = Math.max(0, value + delta).toLocaleString("en-US");
    }
  }

  function showStatus(card, status, version) {
    card.dataset.status = status;
    card.dataset.version = String(version);
    for (const name of Object.keys(STATUS_LABELS)) card.classList.toggle(`status-${name}`, name === status);
    const badge = card.querySelector('[data-role="badge"]');
    if (badge) {
      badge.textContent = STATUS_LABELS[status] || status;
      badge.className = `badge badge-${status}`;
    }
    const versionCell = card.querySelector('[data-role="version"]');
    if (versionCell) versionCell.textContent = String(version);
    card.querySelectorAll("[data-action]").forEach((button) => {
      const target = { approve: "approved", reject: "rejected", spam: "spam" }[button.dataset.action];
      button.disabled = target === status;
      if (button.dataset.action === "approve") button.textContent = status === "spam" ? "Not spam" : "Approve";
    });
  }

  function removeCard(card) {
    const list = cards();
    const index = list.indexOf(card);
    const wasCurrent = card === current || card.contains(document.activeElement);
    card.remove();
    if (wasCurrent) {
      const rest = cards();
      current = null;
      if (rest.length) setCurrent(rest[Math.min(index, rest.length - 1)]);
      else document.getElementById("main").focus();
    }
    if (empty && !cards().length) empty.hidden = false;
    updateSelection();
  }

  function applyResult(card, comment, changed) {
    const from = card.dataset.status;
    cardError(card, "");
    if (changed) {
      adjustCount(from, -1);
      adjustCount(comment.status, +1);
    }
    if (page === "queue" && listStatus !== "all" && comment.status !== listStatus) {
      removeCard(card);
    } else {
      showStatus(card, comment.status, comment.version);
    }
  }

  // --- decisions ---

  async function decide(card, action) {
    if (!card || card.getAttribute("aria-busy") === "true") return;
    const id = card.dataset.id;
    card.setAttribute("aria-busy", "true");
    cardError(card, "");
    try {
      const data = await postJson(`${apiRoot}/comments/${id}/${action}`, {
        version: Number(card.dataset.version),
      });
      applyResult(card, data.comment, data.changed);
      say(data.changed ? `Comment #${id} ${DONE[action]}.` : `Comment #${id} was already ${data.comment.status}.`, "ok");
      if (page === "detail") refreshHistory(id);
    } catch (error) {
      cardError(card, error.message);
      say(`Comment #${id} was not changed: ${error.message}`, "error");
    } finally {
      card.removeAttribute("aria-busy");
    }
  }

  async function bulk(action) {
    const chosen = selectedCards();
    if (!chosen.length) {
      say("Select comments first: tick their boxes or press x.", "error");
      return;
    }
    const buttons = document.querySelectorAll("[data-bulk]");
    buttons.forEach((button) => { button.disabled = true; });
    chosen.forEach((card) => cardError(card, ""));
    try {
      const data = await postJson(`${apiRoot}/decisions`, {
        decisions: chosen.map((card) => ({
          id: Number(card.dataset.id),
          action,
          version: Number(card.dataset.version),
        })),
      });
      data.items.forEach((item, index) => applyResult(chosen[index], item.comment, item.changed));
      say(`${chosen.length} comment${chosen.length === 1 ? "" : "s"} ${DONE[action]}.`, "ok");
    } catch (error) {
      say(`Nothing was changed: ${error.message}`, "error");
      const named = (error.problem && error.problem.errors) || {};
      chosen.forEach((card) => {
        if (named[card.dataset.id]) cardError(card, [].concat(named[card.dataset.id]).join("; "));
      });
    } finally {
      updateSelection();
    }
  }

  async function refreshHistory(id) {
    const rows = document.getElementById("history-rows");
    if (!rows) return;
    try {
      const data = await getJson(`${apiRoot}/comments/${id}/history`);
      rows.replaceChildren(
        ...data.history.map((event) => {
          const row = document.createElement("tr");
          const when = document.createElement("time");
          when.dateTime = event.at;
          when.textContent = event.at.replace("T", " ").slice(0, 19);
          const change = (event.from_status ? `${STATUS_LABELS[event.from_status]} → ` : "") + STATUS_LABELS[event.to_status];
          for (const value of [when, event.actor, change, event.note || ""]) {
            const cell = document.createElement("td");
            if (value instanceof Node) cell.append(value);
            else cell.textContent = value;
            row.append(cell);
          }
          return row;
        })
      );
    } catch (error) {
      say(`The history could not be reloaded: ${error.message}`, "error");
    }
  }

  // --- wiring ---

  if (cardsRoot) {
    cardsRoot.addEventListener("click", (event) => {
      const button = event.target.closest("[data-action]");
      if (!button) return;
      const card = button.closest(".card");
      setCurrent(card, false);
      decide(card, button.dataset.action);
    });
    cardsRoot.addEventListener("change", (event) => {
      if (event.target.matches(".select")) updateSelection();
    });
    cardsRoot.addEventListener("focusin", (event) => {
      const card = event.target.closest(".card");
      if (card && card !== current) setCurrent(card, false);
    });
  }

  if (selectAll) {
    selectAll.addEventListener("change", () => {
      cards().forEach((card) => {
        const box = card.querySelector(".select");
        if (box) box.checked = selectAll.checked;
      });
      updateSelection();
    });
  }

  document.querySelectorAll("[data-bulk]").forEach((button) => {
    button.addEventListener("click", () => bulk(button.dataset.bulk));
  });

  function toggleKeys() {
    if (!keysDialog) return;
    if (keysDialog.open) keysDialog.close();
    else keysDialog.showModal();
  }
  const keysButton = document.getElementById("show-keys");
  if (keysButton) keysButton.addEventListener("click", toggleKeys);
  document.querySelectorAll("[data-close-dialog]").forEach((button) => {
    button.addEventListener("click", () => button.closest("dialog").close());
  });

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    if (target.matches("textarea, select")) return true;
    return target.matches("input") && !["checkbox", "radio", "button", "submit"].includes(target.type);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (typing(event.target)) return;
    if (keysDialog && keysDialog.open && event.key !== "?") return;
    const card = current && current.isConnected ? current : null;
    switch (event.key) {
      case "j":
        move(+1);
        break;
      case "k":
        move(-1);
        break;
      case "a":
      case "r":
      case "s":
        if (!card) {
          say("Move to a comment first with j or k.", "error");
          break;
        }
        decide(card, { a: "approve", r: "reject", s: "spam" }[event.key]);
        break;
      case "x": {
        const box = card && card.querySelector(".select");
        if (!box) break;
        box.checked = !box.checked;
        updateSelection();
        break;
      }
      case "o": {
        const link = card && card.querySelector(".details-link");
        if (link) window.location.assign(link.href);
        break;
      }
      case "/": {
        const search = document.getElementById("search-q");
        if (search) search.focus();
        break;
      }
      case "?":
        toggleKeys();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  updateSelection();
  if (page === "detail") {
    const only = cards()[0];
    if (only) setCurrent(only, false);
  } else if (cards().length) {
    setCurrent(cards()[0], false);
  }
})();
