// formcoach pages: upload, live progress, video/chart sync, history and account actions
// (the compare page has its own compare.js).
// Plain script, no libraries; every feature starts only if its elements are on the page.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const csrf = () => $('meta[name="csrf-token"]')?.content || "";
const lang = () => document.documentElement.lang || "ja";

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const sep = url.includes("?") ? "&" : "?";
  const res = await fetch(url + sep + "lang=" + lang(), {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ? data.error.message : String(res.status));
  return data;
}

function show(el, text) { if (el) { el.textContent = text; el.hidden = !text; } }

// --- new analysis ------------------------------------------------------------------------
function initUpload() {
  const form = $("#upload");
  if (!form) return;
  const input = $("#video"), zone = $("#dropzone"), msg = $("#msg");
  const showName = () => { $("#filename").textContent = input.files[0] ? input.files[0].name : ""; };
  input.addEventListener("change", showName);
  ["dragenter", "dragover"].forEach((n) => zone.addEventListener(n, (e) => {
    e.preventDefault(); zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((n) => zone.addEventListener(n, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; showName(); }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!input.files.length) { show(msg, form.dataset.noFile); return; }
    const data = new FormData(form);
    if (!data.get("height_cm")) data.delete("height_cm");
    const xhr = new XMLHttpRequest();
    const bar = $("#bar"), pct = $("#pct"), button = $("button[type=submit]", form);
    $("#upstate").hidden = false; show(msg, ""); button.disabled = true;
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.round(100 * e.loaded / e.total);
      bar.value = p; pct.textContent = p + " %";
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText || "{}"); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) { location.href = "/runs/" + body.id; return; }
      button.disabled = false; $("#upstate").hidden = true;
      show(msg, body.error ? body.error.message + " (" + body.error.code + ")" : "HTTP " + xhr.status);
    };
    xhr.onerror = () => { button.disabled = false; show(msg, "network error"); };
    xhr.open("POST", "/api/runs?lang=" + lang());
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.send(data);
  });
}

// --- progress ----------------------------------------------------------------------------
// Time phrases from the page's clock texts ({n} s, {m} min {s} s).
function clockText(clock, seconds) {
  const n = Math.max(0, Math.round(seconds));
  if (n < 60) return clock.s.replace("{n}", n);
  return clock.min.replace("{m}", Math.floor(n / 60)).replace("{s}", String(n % 60).padStart(2, "0"));
}

function initProgress() {
  const card = $("#progress-card");
  if (!card) return;
  const id = card.dataset.run, labels = JSON.parse(card.dataset.labels), hints = JSON.parse(card.dataset.hints);
  const clock = JSON.parse(card.dataset.clock);
  const setBadge = (el, status) => { el.className = "badge st-" + status; el.textContent = labels[status] || status; };
  let finished = false, shown = card.dataset.ready === "true";
  let pending = JSON.parse(card.dataset.pending || "[]");
  // The last state from the server and when it arrived: between events the page counts the
  // elapsed time up and the estimates down by itself.
  let last = null, lastAt = 0;
  function drawTimes() {
    if (!last) return;
    const dt = (Date.now() - lastAt) / 1000;
    for (const s of last.stages) {
      const li = $('[data-stage="' + s.name + '"]');
      if (!li) continue;
      const running = s.status === "running";
      const el = $(".elapsed", li), eta = $(".stage-eta", li);
      const spent = s.elapsed_s == null ? null : s.elapsed_s + (running ? dt : 0);
      el.textContent = spent == null ? "" : (running ? clock.elapsed : clock.took).replace("{t}", clockText(clock, spent));
      eta.textContent = running && s.eta_s != null ? clock.stage_left.replace("{t}", clockText(clock, Math.max(1, s.eta_s - dt))) : "";
    }
    const total = $("#eta-total"), rep = $("#eta-report");
    if (last.eta_s == null) { total.textContent = clock.unknown; rep.textContent = ""; return; }
    const left = last.eta_s - dt;
    total.textContent = left < 1 ? clock.soon : clock.left.replace("{t}", clockText(clock, left));
    if (shown) rep.textContent = clock.report_ready;
    else if (last.report_eta_s != null && last.report_eta_s < last.eta_s) rep.textContent = clock.report.replace("{t}", clockText(clock, Math.max(1, last.report_eta_s - dt)));
    else rep.textContent = "";
  }
  const ticker = setInterval(() => { if (finished) clearInterval(ticker); else drawTimes(); }, 1000);
  // The results once the report is ready (before the videos are made, where the pipeline does
  // that), then each video as it leaves pending_outputs.
  async function showResults() {
    const res = await fetch("/runs/" + id + "/results", { credentials: "same-origin" });
    if (!res.ok) return false;
    $("#results").innerHTML = await res.text();
    $("#run-actions").hidden = false;
    initResults(); initPeople(); initShare();
    return true;
  }
  async function fillIn(done) {
    if (done.includes("annotated_video")) {
      const v = $("#annotated");
      if (v && !v.getAttribute("src") && v.dataset.src) { v.src = v.dataset.src; v.load(); }
      $$('[data-pending-for="annotated_video"]').forEach((n) => n.remove());
    }
    if (done.includes("drill_videos")) {
      // The drill videos' addresses are known only now: take their section from a fresh copy.
      const res = await fetch("/runs/" + id + "/results", { credentials: "same-origin" });
      if (!res.ok) return;
      const fresh = document.createElement("div");
      fresh.innerHTML = await res.text();
      for (const sel of ["#drills", "#downloads"]) {
        const now = $(sel), next = $(sel, fresh);
        if (now && next) now.replaceWith(next);
      }
    }
  }
  async function update(run) {
    if (finished) return;
    last = run; lastAt = Date.now();
    setBadge($("#status"), run.status);
    $("#progress").value = run.progress;
    $("#progress-pct").textContent = Math.round(run.progress) + " %";
    for (const s of run.stages) {
      const li = $('[data-stage="' + s.name + '"]');
      if (!li) continue;
      li.className = "stage st-" + s.status;
      $(".state", li).textContent = labels[s.status] || s.status;
    }
    drawTimes();
    const completed = run.status === "completed";
    const ready = run.report_ready ?? completed;
    const nowPending = run.pending_outputs ?? (completed ? [] : ["annotated_video", "drill_videos"]);
    if (ready && !shown) {
      shown = await showResults();
      if (shown) pending = nowPending;
    } else if (shown) {
      const done = pending.filter((p) => !nowPending.includes(p));
      pending = nowPending;
      if (done.length) await fillIn(done);
    }
    if (completed) {
      finished = true;
      card.hidden = true;
    } else if (run.status === "failed") {
      finished = true;
      const box = $("#failure");
      $("#failure-msg").textContent = run.error ? run.error.message + " (" + run.error.code + ")" : "";
      $("#failure-hint").textContent = hints[run.error ? run.error.code : ""] || hints[""];
      box.hidden = false;
    } else {
      // Still going, perhaps waiting (storage_full: the stage resumes once there is space).
      const box = $("#failure");
      $("#failure-msg").textContent = run.error ? run.error.message + " (" + run.error.code + ")" : "";
      $("#failure-hint").textContent = run.error ? hints[run.error.code] || hints[""] : "";
      box.hidden = !run.error;
    }
  }
  async function poll() {
    if (finished) return;
    try { await update(await api("GET", "/api/runs/" + id)); } catch (_) { /* retried below */ }
    if (!finished) setTimeout(poll, 1000);
  }
  // Live updates by server-sent events; if the stream fails (a proxy that buffers, an old
  // browser), fall back to polling once a second.
  card.dataset.live = "polling";
  if (!window.EventSource) { setTimeout(poll, 800); return; }
  const stream = new EventSource("/api/runs/" + id + "/events?lang=" + lang());
  stream.addEventListener("run", (e) => {
    card.dataset.live = "events";
    const run = JSON.parse(e.data);
    if (run.status === "completed" || run.status === "failed") stream.close();
    update(run);
  });
  stream.addEventListener("gone", () => { stream.close(); location.reload(); });
  stream.onerror = () => {
    if (finished) { stream.close(); return; }
    stream.close(); card.dataset.live = "polling";
    $("#live-note").hidden = false;
    setTimeout(poll, 1000);
  };
}

// --- subject picker: analyse another tracked person from the same upload ----------------
function initPeople() {
  $$("[data-reanalyse]").forEach((b) => b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const run = await api("POST", "/api/runs/" + b.dataset.run + "/reanalyse", { subject: +b.dataset.reanalyse });
      location.href = "/runs/" + run.id;
    } catch (e) { b.disabled = false; show($("#people-msg"), e.message); }
  }));
}

// --- share: a read-only link + QR code for the customer, revocable ----------------------
function initShare() {
  const b = $("[data-share]");
  if (!b) return;
  let shareId = null;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const s = await api("POST", "/api/runs/" + b.dataset.share + "/shares");
      shareId = s.id;
      const link = $("#share-url");
      link.href = s.url || s.path;
      link.textContent = s.url || location.origin + s.path;
      // The SVG is made by the server (segno) from our own URL.
      $("#share-qr").innerHTML = s.qr_svg || "";
      $("#share-noqr").hidden = !!s.qr_svg;
      $("#share-out").hidden = false;
      show($("#share-msg"), "");
    } catch (e) { show($("#share-msg"), e.message); }
    b.disabled = false;
  });
  $("#share-revoke")?.addEventListener("click", async () => {
    if (shareId === null) return;
    try {
      await api("DELETE", "/api/runs/" + b.dataset.share + "/shares/" + shareId);
      $("#share-out").hidden = true;
      show($("#share-msg"), $("#share-revoke").dataset.done);
    } catch (e) { show($("#share-msg"), e.message); }
  });
}

// --- results: seek from findings and charts, playhead, original follows annotated ---------
function initResults() {
  const video = $("#annotated");
  if (!video) return;
  const original = $("#original");
  const charts = $$("svg.chart");
  const drawPlayhead = () => {
    for (const svg of charts) {
      const t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, x0 = +svg.dataset.x0, x1 = +svg.dataset.x1;
      const f = Math.max(0, Math.min(1, (video.currentTime - t0) / (t1 - t0 || 1)));
      const x = x0 + f * (x1 - x0);
      const line = $(".playhead", svg);
      line.setAttribute("x1", x); line.setAttribute("x2", x);
    }
  };
  const seek = (t) => {
    video.currentTime = Math.min(t, video.duration || t);
    drawPlayhead();
    video.scrollIntoView({ behavior: "smooth", block: "center" });
  };
  $$("[data-seek]").forEach((b) => b.addEventListener("click", () => seek(parseFloat(b.dataset.seek))));
  for (const svg of charts) {
    svg.addEventListener("click", (e) => {
      const box = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
      const scale = Math.min(box.width / vb.width, box.height / vb.height);
      const offset = (box.width - vb.width * scale) / 2;
      const x = (e.clientX - box.left - offset) / scale;
      const t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, x0 = +svg.dataset.x0, x1 = +svg.dataset.x1;
      const f = Math.max(0, Math.min(1, (x - x0) / (x1 - x0)));
      seek(t0 + f * (t1 - t0));
    });
  }
  // Keyboard users step through the clip from a focused chart (arrows: 0.1 s, with Shift: 1 s).
  for (const svg of charts) {
    svg.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      e.preventDefault();
      const step = (e.shiftKey ? 1 : 0.1) * (e.key === "ArrowLeft" ? -1 : 1);
      video.currentTime = Math.max(0, video.currentTime + step);
      drawPlayhead();
    });
  }
  const tick = () => { drawPlayhead(); if (!video.paused) requestAnimationFrame(tick); };
  video.addEventListener("timeupdate", drawPlayhead);
  video.addEventListener("seeked", drawPlayhead);
  video.addEventListener("play", () => requestAnimationFrame(tick));
  if (original) {
    video.addEventListener("play", () => { original.currentTime = video.currentTime; original.play().catch(() => {}); });
    video.addEventListener("pause", () => original.pause());
    video.addEventListener("seeked", () => { original.currentTime = video.currentTime; });
    video.addEventListener("ratechange", () => { original.playbackRate = video.playbackRate; });
  }
}

// --- history: delete with confirmation, pick two runs to compare -------------------------
function initHistory() {
  $$("[data-delete-run]").forEach((b) => b.addEventListener("click", async () => {
    if (!confirm(b.dataset.confirm)) return;
    try { await api("DELETE", "/api/runs/" + b.dataset.deleteRun); b.closest("tr").remove(); }
    catch (e) { alert(e.message); }
  }));
  const form = $("#compare-form");
  if (!form) return;
  form.addEventListener("submit", (e) => {
    const ids = $$('input[name="pick"]:checked', form).map((c) => +c.value).sort((x, y) => x - y);
    if (ids.length !== 2) { e.preventDefault(); $("#compare-msg").textContent = form.dataset.pick; return; }
    form.elements.a.value = ids[0]; form.elements.b.value = ids[1];
    $$('input[name="pick"]', form).forEach((c) => { c.disabled = true; });
  });
}

// --- accounts: users (admin) and tokens --------------------------------------------------
// The API may answer before its transaction is committed, so wait until a list shows the
// change before reloading (at most ~3 s), instead of showing a page without it.
async function settle(url, ok) {
  for (let i = 0; i < 30; i++) {
    try { if (ok(await api("GET", url))) return; } catch (_) { /* retry */ }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function initAccounts() {
  const done = () => location.reload();
  const fail = (e) => { const m = $("#users-msg") || $("#tokens-msg"); show(m, e.message); };
  $$("[data-user-active]").forEach((b) => b.addEventListener("click", () =>
    api("PATCH", "/api/users/" + b.dataset.id, { is_active: b.dataset.userActive === "true" }).then(done, fail)));
  const dialog = $("#reset-dialog");
  let resetId = null;
  $$("[data-reset]").forEach((b) => b.addEventListener("click", () => {
    resetId = b.dataset.reset; $("#reset-name").textContent = b.dataset.name;
    $("#reset-username").value = b.dataset.name;
    $("#reset-pw").value = ""; dialog.showModal();
  }));
  $("[data-close]", dialog || document)?.addEventListener("click", () => dialog.close());
  $("#reset-form")?.addEventListener("submit", () => {
    api("PATCH", "/api/users/" + resetId, { password: $("#reset-pw").value })
      .then(() => show($("#users-msg"), $("#saved-text").textContent), fail);
  });
  $("#add-user")?.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target.elements;
    api("POST", "/api/users", {
      username: f.username.value, password: f.password.value,
      language: f.language.value, is_admin: f.is_admin.checked,
    }).then((u) => settle("/api/users", (list) => list.some((x) => x.id === u.id)).then(done), fail);
  });
  $("#new-token")?.addEventListener("submit", (e) => {
    e.preventDefault();
    api("POST", "/api/tokens", { name: e.target.elements.name.value }).then((tok) => {
      $("#token-value").textContent = tok.token; $("#token-once").hidden = false;
    }, fail);
  });
  $$("[data-revoke]").forEach((b) => b.addEventListener("click", () => {
    if (!confirm(b.dataset.confirm)) return;
    const id = +b.dataset.revoke;
    api("DELETE", "/api/tokens/" + id)
      .then(() => settle("/api/tokens", (list) => !list.some((x) => x.id === id)).then(done), fail);
  }));
}

function initCommon() {
  $$("time.localtime").forEach((el) => {
    const d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) el.textContent = d.toLocaleString(lang() === "ja" ? "ja-JP" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
  });
  $$("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
}

document.addEventListener("DOMContentLoaded", () => {
  initCommon(); initUpload(); initProgress(); initResults(); initPeople(); initShare(); initHistory(); initAccounts();
});
