// The review page: decisions through the JSON API without a reload, bulk actions, keys,
// undo, the queue that flows on, live counts, the author panel and the page's settings.
// Served by the app itself; the page's CSP allows no inline script, so all of it is here.
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  if (page !== "queue" && page !== "detail") return;

  const apiRoot = body.dataset.apiRoot || "/api/v1";
  const listStatus = body.dataset.status; // the tab shown ("all" keeps every card)
  const pollSeconds = Number(body.dataset.pollSeconds || 0);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";
  const cardsRoot = document.getElementById("cards");
  const flash = document.getElementById("flash");
  const empty = document.getElementById("empty");
  const selectAll = document.getElementById("select-all");
  const selectedCount = document.getElementById("selected-count");
  const keysDialog = document.getElementById("keys-help");
  const STATUS_LABELS = { pending: "Pending", approved: "Approved", rejected: "Rejected", spam: "Spam" };
  const ACTION_STATUS = { approve: "approved", reject: "rejected", spam: "spam", pending: "pending" };
  const DONE = { approve: "approved", reject: "rejected", spam: "marked as spam", pending: "put back to pending" };
  const KEY_ACTIONS = { a: "approve", r: "reject", s: "spam", p: "pending" };
  const PREFS = { shortcuts: "moderation.shortcuts", compact: "moderation.compact" };
  let current = null;
  let flashTimer = null;
  let chain = Promise.resolve(); // decisions are sent one after another, in key order

  // --- preferences kept in this browser ---

  function pref(name) {
    try {
      return window.localStorage.getItem(PREFS[name]);
    } catch (error) {
      return null;
    }
  }

  function setPref(name, value) {
    try {
      window.localStorage.setItem(PREFS[name], value);
    } catch (error) {
      /* private mode: the setting lasts until the page is left */
    }
  }

  const shortcutsToggle = document.getElementById("shortcuts-on");
  let shortcutsOn = pref("shortcuts") !== "off";
  if (shortcutsToggle) {
    shortcutsToggle.checked = shortcutsOn;
    shortcutsToggle.addEventListener("change", () => {
      shortcutsOn = shortcutsToggle.checked;
      setPref("shortcuts", shortcutsOn ? "on" : "off");
      say(shortcutsOn ? "Single-key shortcuts are on." : "Single-key shortcuts are off.", "ok");
    });
  }

  const compactToggle = document.getElementById("compact-toggle");
  function showCompact(on) {
    body.classList.toggle("compact", on);
    if (compactToggle) compactToggle.setAttribute("aria-pressed", on ? "true" : "false");
  }
  showCompact(pref("compact") === "on");
  if (compactToggle) {
    compactToggle.addEventListener("click", () => {
      const on = !body.classList.contains("compact");
      setPref("compact", on ? "on" : "off");
      showCompact(on);
    });
  }

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

  // The cards on screen; a decided card that left the tab stays hidden in the list (for undo).
  function cards() {
    return cardsRoot ? Array.from(cardsRoot.querySelectorAll(":scope > .card:not([hidden])")) : [];
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

  async function move(step) {
    let list = cards();
    let index = list.indexOf(current);
    if (step > 0 && index === list.length - 1 && page === "queue") {
      if (await loadMore()) {
        list = cards();
        index = list.indexOf(current);
      } else if (list.length) {
        say("This is the last comment here.", "ok");
      }
    }
    if (!list.length) return;
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
    body.classList.toggle("has-selection", chosen > 0);
    if (selectAll) {
      selectAll.checked = list.length > 0 && chosen === list.length;
      selectAll.indeterminate = chosen > 0 && chosen < list.length;
      selectAll.disabled = list.length === 0;
    }
    document.querySelectorAll("[data-bulk]").forEach((button) => { button.disabled = chosen === 0; });
    if (cardsRoot) {
      cardsRoot.querySelectorAll(":scope > .card").forEach((card) => {
        const box = card.querySelector(".select");
        card.classList.toggle("is-selected", Boolean(box && box.checked));
      });
    }
  }

  function setCount(key, value, capped) {
    const badge = document.querySelector(`[data-count="${key}"]`);
    if (!badge) return;
    badge.toggleAttribute("data-capped", capped);
    badge.textContent = capped ? `${value.toLocaleString("en-US")}+` : value.toLocaleString("en-US");
    badge.title = capped ? `at least ${value.toLocaleString("en-US")}` : "";
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
      button.disabled = ACTION_STATUS[button.dataset.action] === status;
      if (button.dataset.action === "approve") button.textContent = status === "spam" ? "Not spam" : "Approve";
    });
  }

  function leavesTab(status) {
    return page === "queue" && listStatus !== "all" && status !== listStatus;
  }

  function refreshEmpty() {
    if (!empty) return;
    const none = cards().length === 0;
    empty.hidden = !none || inFlight > 0 || Boolean(loading) || Boolean(nextLink());
  }

  function hideCard(card) {
    card.hidden = true;
    const box = card.querySelector(".select");
    if (box) box.checked = false;
  }

  function applyResult(card, comment, changed) {
    const from = card.dataset.status;
    cardError(card, "");
    if (changed) {
      adjustCount(from, -1);
      adjustCount(comment.status, +1);
    }
    showStatus(card, comment.status, comment.version);
    if (leavesTab(comment.status)) hideCard(card);
    else card.hidden = false;
  }

  // Where the focus goes when `leaving` cards are decided: the next card after them.
  function nextAfter(leaving) {
    const list = cards();
    const last = Math.max(...leaving.map((card) => list.indexOf(card)));
    const after = list.slice(last + 1).find((card) => !leaving.includes(card));
    if (after) return after;
    const before = list.slice(0, last).reverse().find((card) => !leaving.includes(card));
    return before || null;
  }

  // --- decisions: queued, sent one after another, each undoable ---

  let inFlight = 0; // decisions asked for and not answered yet

  function enqueue(task) {
    inFlight += 1;
    const run = async () => {
      try {
        await task();
      } finally {
        inFlight -= 1;
        if (!inFlight) {
          refreshEmpty();
          topUp();
        }
      }
    };
    chain = chain.then(run, run);
    return chain;
  }

  // Decide `list` cards with `action`: the page moves on at once, the API calls follow in order.
  function decideCards(list, action) {
    list = list.filter((card) => card.isConnected && !card.hidden);
    if (!list.length) return;
    const items = list.map((card) => ({ card, action }));
    if (page === "queue") {
      const moveOn = list.includes(current) || list.some((card) => card.contains(document.activeElement));
      const next = moveOn ? nextAfter(list) : null;
      list.forEach((card) => {
        card.classList.add("is-deciding");
        const box = card.querySelector(".select");
        if (box) box.checked = false;
        // Leaves the tab: hide it now, show it again if the server refuses.
        if (leavesTab(ACTION_STATUS[action])) card.hidden = true;
      });
      if (moveOn) {
        if (next) setCurrent(next);
        else {
          current = null;
          document.getElementById("main").focus();
        }
      }
      updateSelection();
      topUp();
    }
    enqueue(() => send(items));
  }

  // Undo waits its turn too: once the decisions asked for are done, the server undoes this
  // moderator's latest decision that is still current (read from the audit trail, so undo
  // survives a reload and reaches decisions made in another tab).
  function undo() {
    enqueue(async () => {
      let data;
      try {
        data = await postJson(`${apiRoot}/decisions/undo`, {});
      } catch (error) {
        say(error.status === 404 ? "Nothing to undo." : `Nothing was undone: ${error.message}`, "error");
        return;
      }
      const back = [];
      const elsewhere = [];
      data.items.forEach(({ comment, changed }) => {
        const card = document.getElementById(`comment-${comment.id}`);
        if (card && cardsRoot && cardsRoot.contains(card)) {
          applyResult(card, comment, changed);
          if (!card.hidden) back.push(card);
        } else if (page === "queue" && !leavesTab(comment.status)) {
          elsewhere.push(comment.id); // decided before a reload: its card is gone
        }
      });
      if (back.length) setCurrent(back[0]);
      if (page === "queue") refreshCounts();
      const [first] = data.items;
      const what = data.items.length === 1 ? `comment #${first.comment.id} is` : `${data.items.length} comments are`;
      const hint = elsewhere.length ? ` Not on this page: #${elsewhere.join(", #")} (reload to see ${elsewhere.length === 1 ? "it" : "them"}).` : "";
      say(`Undone: ${what} ${STATUS_LABELS[first.comment.status].toLowerCase()} again.${hint}`, "ok");
      if (page === "detail") refreshHistory(first.comment.id);
    });
  }

  async function refreshCard(card) {
    try {
      const data = await getJson(`${apiRoot}/comments/${card.dataset.id}/history`);
      showStatus(card, data.comment.status, data.comment.version);
      if (page === "detail") refreshHistory(card.dataset.id);
    } catch (error) {
      /* the error shown already says what happened */
    }
  }

  async function send(items) {
    const before = items.map(({ card, action }) => ({
      card,
      action,
      id: Number(card.dataset.id),
      version: Number(card.dataset.version),
    }));
    before.forEach(({ card }) => {
      card.setAttribute("aria-busy", "true");
      cardError(card, "");
    });
    try {
      let results;
      if (before.length === 1) {
        const [one] = before;
        results = [await postJson(`${apiRoot}/comments/${one.id}/${one.action}`, { version: one.version })];
      } else {
        const data = await postJson(`${apiRoot}/decisions`, {
          decisions: before.map((b) => ({ id: b.id, action: b.action, version: b.version })),
        });
        results = data.items;
      }
      results.forEach((result, index) => applyResult(before[index].card, result.comment, result.changed));
      const action = before[0].action;
      if (before.length === 1) {
        const result = results[0];
        say(result.changed ? `Comment #${before[0].id} ${DONE[action]}. Press z to undo.` : `Comment #${before[0].id} was already ${result.comment.status}.`, "ok");
      } else {
        say(`${before.length} comments ${DONE[action]}. Press z to undo.`, "ok");
      }
      if (page === "detail") refreshHistory(before[0].id);
    } catch (error) {
      const named = (error.problem && error.problem.errors) || {};
      before.forEach(({ card, id }) => {
        card.hidden = false;
        if (before.length === 1) cardError(card, error.message);
        else if (named[id]) cardError(card, [].concat(named[id]).join("; "));
      });
      if (error.status === 409) {
        // Show what the comment is now, not what this page last knew.
        const problem = error.problem || {};
        before.forEach(({ card, id }) => {
          if (problem.comment_id === id && problem.current_status) {
            showStatus(card, problem.current_status, problem.current_version);
          } else {
            refreshCard(card);
          }
        });
      }
      const what = before.length === 1 ? `Comment #${before[0].id} was not changed` : "Nothing was changed";
      say(`${what}: ${error.message}`, "error");
    } finally {
      before.forEach(({ card }) => {
        card.removeAttribute("aria-busy");
        card.classList.remove("is-deciding");
      });
      updateSelection();
      refreshEmpty();
      topUp();
    }
  }

  function bulk(action) {
    const chosen = selectedCards();
    if (!chosen.length) {
      say("Select comments first: tick their boxes or press x.", "error");
      return;
    }
    decideCards(chosen, action);
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

  // --- the queue flows on: the next page joins the list, counts stay current ---

  let loading = null;

  function nextLink() {
    return document.querySelector('.pager a[rel="next"]');
  }

  // Load the next page's cards into the list (or, once the last page is done, the tab again).
  function loadMore() {
    if (loading) return loading;
    if (page !== "queue" || !cardsRoot) return Promise.resolve(false);
    const link = nextLink();
    const tab = document.querySelector(`.tabs [data-tab="${listStatus}"]`);
    const url = link ? link.href : tab && !cards().length ? tab.href : null;
    if (!url) return Promise.resolve(false);
    loading = (async () => {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (!response.ok) throw new Error(`The server answered ${response.status}.`);
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const known = new Set(Array.from(cardsRoot.children).map((card) => card.dataset.id));
        const fresh = Array.from(doc.querySelectorAll("#cards > .card")).filter((card) => !known.has(card.dataset.id));
        fresh.forEach((card) => cardsRoot.append(document.adoptNode(card)));
        const pager = document.querySelector(".pager");
        const newNext = doc.querySelector('.pager a[rel="next"]');
        const oldNext = nextLink();
        if (newNext && oldNext) oldNext.setAttribute("href", newNext.getAttribute("href"));
        else if (newNext && pager) pager.append(document.adoptNode(newNext));
        else if (oldNext) oldNext.remove();
        doc.querySelectorAll("[data-count]").forEach((badge) => {
          const value = Number(badge.textContent.replace(/[^0-9]/g, ""));
          setCount(badge.dataset.count, value, badge.hasAttribute("data-capped"));
        });
        return fresh.length > 0;
      } catch (error) {
        say(`More comments could not be loaded: ${error.message}`, "error");
        return false;
      } finally {
        loading = null;
        updateSelection();
        refreshEmpty();
        if (!current && cards().length) setCurrent(cards()[0], document.activeElement === document.getElementById("main"));
      }
    })();
    return loading;
  }

  // Keep a few cards ahead of the current one.
  function topUp() {
    if (page !== "queue") return;
    if (!cards().length && inFlight) return; // refill once the decisions are done
    const list = cards();
    const ahead = list.length - 1 - list.indexOf(current);
    if (ahead < 3) loadMore();
    else refreshEmpty();
  }

  async function refreshCounts() {
    const params = new URLSearchParams(window.location.search);
    params.delete("cursor");
    params.set("limit", "1");
    params.set("status", listStatus || "pending");
    try {
      const data = await getJson(`${apiRoot}/queue?${params}`);
      let total = 0;
      let anyCapped = false;
      for (const [status, n] of Object.entries(data.counts)) {
        const capped = n >= data.count_limit && !data.exact_counts.includes(status);
        setCount(status, n, capped);
        total += n;
        anyCapped = anyCapped || capped;
      }
      setCount("all", total, anyCapped);
    } catch (error) {
      /* a missed poll is retried at the next one */
    }
  }
  if (page === "queue" && pollSeconds > 0) window.setInterval(refreshCounts, pollSeconds * 1000);

  // --- the author panel: their other comments, on every site ---

  async function loadAuthor(panel) {
    if (panel.dataset.loaded) return;
    panel.dataset.loaded = "1";
    const list = panel.querySelector("ul");
    const params = new URLSearchParams({ status: "all", author: panel.dataset.author, limit: "10" });
    try {
      const data = await getJson(`${apiRoot}/queue?${params}`);
      const summary = panel.querySelector('[data-role="author-counts"]');
      if (summary) {
        summary.textContent = Object.entries(data.counts)
          .filter(([, n]) => n > 0)
          .map(([status, n]) => `${n} ${STATUS_LABELS[status].toLowerCase()}`)
          .join(", ");
      }
      list.replaceChildren(
        ...data.items.map((item) => {
          const row = document.createElement("li");
          const link = document.createElement("a");
          link.href = `${body.dataset.reviewRoot || "/review"}/comments/${item.id}`;
          link.textContent = `#${item.id}`;
          const badge = document.createElement("span");
          badge.className = `badge badge-${item.status}`;
          badge.textContent = STATUS_LABELS[item.status];
          const where = document.createElement("span");
          where.className = "author-where";
          where.textContent = ` ${item.site} · ${item.post_id} · ${item.created_at.slice(0, 10)} `;
          const text = document.createElement("span");
          text.className = "author-text";
          text.dir = "auto";
          const plain = new DOMParser().parseFromString(item.content_html, "text/html").body.textContent || "";
          text.textContent = plain.length > 140 ? `${plain.slice(0, 139)}…` : plain;
          row.append(link, " ", badge, where, text);
          return row;
        })
      );
    } catch (error) {
      list.replaceChildren();
      list.textContent = `Their comments could not be loaded: ${error.message}`;
    }
  }

  // --- wiring ---

  if (cardsRoot) {
    cardsRoot.addEventListener("click", (event) => {
      const button = event.target.closest("[data-action]");
      if (!button) return;
      const card = button.closest(".card");
      setCurrent(card, false);
      decideCards([card], button.dataset.action);
    });
    cardsRoot.addEventListener("change", (event) => {
      if (event.target.matches(".select")) updateSelection();
    });
    cardsRoot.addEventListener("focusin", (event) => {
      const card = event.target.closest(".card");
      if (card && card !== current) setCurrent(card, false);
    });
    cardsRoot.addEventListener(
      "toggle",
      (event) => {
        if (event.target.matches(".author-panel") && event.target.open) loadAuthor(event.target);
      },
      true
    );
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
  const undoButton = document.getElementById("undo");
  if (undoButton) undoButton.addEventListener("click", undo);

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
    if (!shortcutsOn || typing(event.target)) return;
    if (keysDialog && keysDialog.open && event.key !== "?") return;
    const card = current && current.isConnected && !current.hidden ? current : null;
    const key = event.key;
    if (KEY_ACTIONS[key]) {
      // With a selection, the keys act on it; else on the current card.
      const chosen = selectedCards();
      if (chosen.length) decideCards(chosen, KEY_ACTIONS[key]);
      else if (card) decideCards([card], KEY_ACTIONS[key]);
      else say("Move to a comment first with j or k.", "error");
      event.preventDefault();
      return;
    }
    if (KEY_ACTIONS[key.toLowerCase()] && key !== key.toLowerCase()) {
      bulk(KEY_ACTIONS[key.toLowerCase()]);
      event.preventDefault();
      return;
    }
    switch (key) {
      case "j":
        move(+1);
        break;
      case "k":
        move(-1);
        break;
      case "z":
        undo();
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
  refreshEmpty();
})();
