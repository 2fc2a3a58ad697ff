// The admin pages: live training-job status, retraining and the settings preview through
// the JSON API. Served by the app itself; the pages' CSP allows no inline script.
"use strict";

(() => {
  const body = document.body;
  const apiRoot = body.dataset.apiRoot || "/api/v1";
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";
  const POLL_MS = 1000;
  const OPEN = new Set(["queued", "running"]);

  function problemText(status, problem) {
    if (status === 401) return "Your session has ended: sign in again.";
    if (problem && problem.type === "/problems/csrf") return "The page expired: reload it and try again.";
    if (problem && problem.detail) {
      const errors = problem.errors
        ? Object.entries(problem.errors).map(([k, v]) => `${k}: ${[].concat(v).join("; ")}`)
        : [];
      return [problem.detail, ...errors].join(" ");
    }
    return `The server answered ${status}.`;
  }

  async function api(method, path, payload) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
    };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const response = await fetch(apiRoot + path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (ignored) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error(problemText(response.status, data));
      error.status = response.status;
      error.problem = data;
      throw error;
    }
    return data;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // --- the training job: start it, then follow it until it ends ---

  const jobBox = document.getElementById("job");
  const retrainForm = document.getElementById("retrain-form");

  function renderJob(job) {
    jobBox.dataset.jobId = job.id;
    jobBox.dataset.jobStatus = job.status;
    jobBox.replaceChildren();
    const line = el("p", "Training job ", "job-line");
    line.append(el("strong", `#${job.id}`), ": ");
    const badge = el("span", job.status, `badge job-status job-${job.status}`);
    badge.dataset.role = "job-status";
    line.append(badge, " ");
    const produced = el("span");
    produced.dataset.role = "job-version";
    if (job.version_id) {
      produced.append("produced ");
      const link = el("a", `version ${job.version_id}`);
      link.href = `?compare=${encodeURIComponent(job.version_id)}`;
      produced.append(link);
    }
    line.append(produced);
    jobBox.append(line);
    if (job.progress) {
      const progressLine = el("p", null, "job-progress");
      const label = el("label", "Progress");
      label.htmlFor = "job-progress-bar";
      const bar = el("progress", `${job.progress.done} of ${job.progress.total}`);
      bar.id = "job-progress-bar";
      bar.dataset.role = "job-progress";
      bar.max = job.progress.total;
      bar.value = job.progress.done;
      const stage = el("span", ` ${job.progress.done} of ${job.progress.total} steps: ${job.progress.stage}`);
      stage.dataset.role = "job-stage";
      progressLine.append(label, " ", bar, stage);
      jobBox.append(progressLine);
    }
    const error = el("p", job.error || "", "job-error");
    error.dataset.role = "job-error";
    error.hidden = !job.error;
    jobBox.append(error);
    const details = el("details", null, "job-log");
    details.open = OPEN.has(job.status);
    details.append(el("summary", "Log"));
    const pre = el("pre", job.log || "");
    pre.dataset.role = "job-log";
    pre.tabIndex = 0; // a scrolling log is reachable from the keyboard
    pre.setAttribute("aria-label", "Training log");
    details.append(pre);
    jobBox.append(details);
    if (retrainForm) retrainForm.querySelector("button[type=submit]").disabled = OPEN.has(job.status);
  }

  async function follow(jobId) {
    let job;
    try {
      job = await api("GET", `/admin/training-jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      const note = el("p", error.message, "job-error");
      jobBox.append(note);
      window.setTimeout(() => follow(jobId), POLL_MS * 3);
      return;
    }
    renderJob(job);
    if (OPEN.has(job.status)) {
      window.setTimeout(() => follow(jobId), POLL_MS);
    } else if (job.status === "succeeded" && job.version_id) {
      // Show the new version beside the active one.
      window.location.assign(`?compare=${encodeURIComponent(job.version_id)}`);
    }
  }

  if (jobBox && jobBox.dataset.jobId && OPEN.has(jobBox.dataset.jobStatus)) {
    follow(jobBox.dataset.jobId);
  }

  if (retrainForm) {
    retrainForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(retrainForm);
      const payload = {
        include_decisions: data.get("include_decisions") === "on",
        corpus_files: data.getAll("corpus_files"),
      };
      const since = data.get("since");
      if (since) payload.since = `${since}T00:00:00Z`;
      const button = retrainForm.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const job = await api("POST", "/admin/training-jobs", payload);
        renderJob(job);
        follow(job.id);
      } catch (error) {
        button.disabled = false;
        jobBox.replaceChildren(el("p", error.message, "job-error"));
        if (error.problem && error.problem.job_id) follow(error.problem.job_id);
      }
    });
  }

  // --- the settings preview ---

  const settingsForm = document.getElementById("settings-form");
  const previewButton = document.getElementById("preview-button");
  const preview = document.getElementById("preview");
  const LABELS = { pending: "Pending", approved: "Approved", spam: "Spam" };

  function settingsPayload() {
    const data = new FormData(settingsForm);
    const lines = (name) => String(data.get(name) || "").split(/\r?\n/);
    return {
      spam_threshold: Number(data.get("spam_threshold")),
      hold_threshold: Number(data.get("hold_threshold")),
      max_links: Number(data.get("max_links")),
      disallowed_words: lines("disallowed_words"),
      moderation_words: lines("moderation_words"),
      trust_new_authors: data.get("trust_new_authors") === "on",
      links_alone_never_spam: data.get("links_alone_never_spam") === "on",
    };
  }

  function renderPreview(result) {
    const part = (role) => preview.querySelector(`[data-role="${role}"]`);
    part("preview-summary").textContent =
      `Of the last ${result.n} comments, ${result.changed_total} would be decided differently.`;
    const counts = part("preview-counts");
    counts.replaceChildren();
    for (const status of ["pending", "approved", "spam"]) {
      const row = el("tr");
      row.dataset.status = status;
      row.append(el("th", LABELS[status]), el("td", result.current[status]), el("td", result.proposed[status]));
      row.firstChild.scope = "row";
      counts.append(row);
    }
    const now = result.labelled_current;
    const next = result.labelled_proposed;
    part("preview-labelled").textContent =
      `Among comments moderators labelled (${now.ham} approved, ${now.spam} spam): ` +
      `approved ones sent to spam ${now.ham_to_spam} → ${next.ham_to_spam}; ` +
      `spam published ${now.spam_published} → ${next.spam_published}.`;
    const changed = part("preview-changed");
    changed.replaceChildren();
    for (const c of result.changed) {
      const row = el("tr");
      row.dataset.commentId = c.id;
      const link = el("a", `#${c.id}`);
      link.href = `/review/comments/${encodeURIComponent(c.id)}`;
      const idCell = el("td");
      idCell.append(link);
      row.append(
        idCell,
        el("td", c.author_name),
        el("td", c.spam_score === null ? "—" : c.spam_score.toFixed(2)),
        el("td", LABELS[c.current] || c.current),
        el("td", LABELS[c.proposed] || c.proposed),
        el("td", c.moderator_label ? (LABELS[c.moderator_label] || c.moderator_label) : "—"),
        el("td", c.excerpt, "text"),
      );
      changed.append(row);
    }
    preview.hidden = false;
  }

  if (settingsForm && previewButton && preview) {
    previewButton.hidden = false;
    previewButton.addEventListener("click", async () => {
      previewButton.disabled = true;
      try {
        renderPreview(await api("POST", "/admin/settings/preview", settingsPayload()));
      } catch (error) {
        preview.hidden = false;
        preview.querySelector('[data-role="preview-summary"]').textContent = error.message;
      } finally {
        previewButton.disabled = false;
      }
    });
  }
})();
