// Record mode of the new-analysis page (issue 21): camera, framing guide and check, countdown,
// MediaRecorder, preview, device tilt, and a resumable (tus 1.0) upload that keeps the take in
// IndexedDB until the server has made a run of it. Plain script, no libraries.
"use strict";
(() => {
  const $ = (s) => document.querySelector(s);
  const form = $("#upload"), panel = $("#record-panel");
  if (!form || !panel) return;
  const DATA = JSON.parse($("#record-data").textContent), T = DATA.text;
  const CHUNK = +panel.dataset.chunk || 1048576;
  const csrf = () => $('meta[name="csrf-token"]')?.content || "";
  const lang = () => document.documentElement.lang || "ja";
  const live = $("#live"), preview = $("#preview"), msg = $("#cam-msg"), framing = $("#framing");
  const recBtn = $("#rec-toggle"), movement = $("#movement");
  let stream = null, facing = "environment", recorder = null, chunks = [], take = null;
  let tick = null, t0 = 0, tilts = [], sensorHooked = false;
  const say = (el, text) => { el.textContent = text || ""; el.hidden = !text; };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- modes -------------------------------------------------------------------------------
  function mode(record) {
    $("#mode-file").setAttribute("aria-pressed", String(!record));
    $("#mode-record").setAttribute("aria-pressed", String(record));
    $("#file-panel").hidden = record; $("#file-submit").hidden = record; panel.hidden = !record;
    if (!record) stopCamera();
    showTips();
  }
  $("#mode-file").addEventListener("click", () => mode(false));
  $("#mode-record").addEventListener("click", () => mode(true));
  function showTips() {
    const list = $("#guide-tips"); list.textContent = "";
    for (const tip of DATA.tips[movement.value] || DATA.tips.auto) {
      const li = document.createElement("li"); li.dataset.code = tip.code; li.textContent = tip.text; list.append(li);
    }
  }
  movement.addEventListener("change", showTips);

  // --- camera ------------------------------------------------------------------------------
  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null; recBtn.disabled = true;
  }
  async function startCamera() {
    say(msg, "");
    if (movement.value === "auto") { say(msg, T.pick_movement); movement.focus(); return; }
    if (!navigator.mediaDevices?.getUserMedia) { say(msg, T.no_camera); return; }
    if (typeof MediaRecorder === "undefined") { say(msg, T.no_recorder); return; }
    stopCamera();
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      // A refusal and a missing camera need different words; the file upload works for both.
      say(msg, e.name === "NotAllowedError" || e.name === "SecurityError" ? T.denied : T.no_camera);
      panel.dataset.camera = e.name;
      return;
    }
    panel.dataset.camera = "on";
    live.srcObject = stream; live.play().catch(() => {});
    recBtn.disabled = false;
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    $("#cam-switch").hidden = cams.length < 2;
  }
  $("#cam-start").addEventListener("click", startCamera);
  $("#cam-switch").addEventListener("click", () => { facing = facing === "environment" ? "user" : "environment"; startCamera(); });

  // --- tilt: the true vertical in the image, degrees clockwise from its up axis ------------------
  function screenAngle() {
    const a = screen.orientation && typeof screen.orientation.angle === "number" ? screen.orientation.angle : window.orientation;
    return typeof a === "number" ? a : 0;
  }
  // (x, y): the world's up direction in the device's frame (x right, y up along the screen in
  // its natural orientation); the picture turns with the screen, so its angle comes off.
  function rollFrom(x, y) {
    const r = (Math.atan2(x, y) * 180) / Math.PI - screenAngle();
    return ((((r + 180) % 360) + 360) % 360) - 180;
  }
  function onOrientation(e) {
    if (e.beta == null || e.gamma == null) return;
    const b = (e.beta * Math.PI) / 180, g = (e.gamma * Math.PI) / 180;
    const x = -Math.cos(b) * Math.sin(g), y = Math.sin(b), z = Math.cos(b) * Math.cos(g);
    // Lying nearly flat the screen-plane direction of gravity means nothing.
    if (Math.hypot(x, y) >= 0.5 * Math.hypot(x, y, z)) tilts.push({ roll: rollFrom(x, y), src: "orientation" });
  }
  function onMotion(e) {
    const a = e.accelerationIncludingGravity;
    if (!a || a.x == null || a.y == null || tilts.some((t) => t.src === "orientation")) return;
    // At rest it reads the reaction to gravity: the up direction.
    if (Math.hypot(a.x, a.y) >= 0.5 * Math.hypot(a.x, a.y, a.z || 0)) tilts.push({ roll: rollFrom(a.x, a.y), src: "motion" });
  }
  async function hookSensors() {
    if (sensorHooked) return;
    sensorHooked = true;
    for (const E of [window.DeviceOrientationEvent, window.DeviceMotionEvent]) {
      if (E && typeof E.requestPermission === "function") await E.requestPermission().catch(() => "denied");
    }
    window.addEventListener("deviceorientation", (e) => recorder && onOrientation(e));
    window.addEventListener("devicemotion", (e) => recorder && onMotion(e));
  }
  function medianRoll() {
    const own = tilts.some((t) => t.src === "orientation") ? tilts.filter((t) => t.src === "orientation") : tilts;
    if (own.length < 3) return null;
    const v = own.map((t) => t.roll).sort((a, b) => a - b);
    const m = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    return Math.round(m * 10) / 10;
  }

  // --- framing check a couple of seconds in ------------------------------------------------------
  function grab() {
    const w = live.videoWidth, h = live.videoHeight, k = Math.min(1, 640 / Math.max(w, h));
    const c = document.createElement("canvas"); c.width = Math.round(w * k); c.height = Math.round(h * k);
    c.getContext("2d").drawImage(live, 0, 0, c.width, c.height);
    return new Promise((r) => c.toBlob(r, "image/jpeg", 0.85));
  }
  async function checkFraming() {
    if (!live.videoWidth) return;
    say(framing, T.checking); framing.className = "framing";
    const data = new FormData();
    for (const at of [0, 600]) {
      await sleep(at);
      if (!recorder) return;
      data.append("frame", await grab(), "frame.jpg");
      data.append("time_s", String((performance.now() - t0) / 1000));
    }
    data.append("movement", movement.value); data.append("language", lang());
    try {
      const res = await fetch("/api/framing-check?lang=" + lang(), { method: "POST", body: data, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ? body.error.message : res.status);
      framing.dataset.verdict = body.verdict; framing.className = "framing " + (body.verdict === "good" ? "good" : "warn");
      say(framing, body.message);
    } catch (e) { say(framing, ""); }
  }

  // --- recording ---------------------------------------------------------------------------
  function mimeType() {
    for (const m of ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4;codecs=avc1", "video/mp4"]) {
      if (MediaRecorder.isTypeSupported(m)) return m;
    }
    return "";
  }
  async function begin() {
    recBtn.disabled = true; await hookSensors();
    const cd = $("#countdown");
    for (const n of [3, 2, 1]) { say(cd, String(n)); await sleep(1000); }
    say(cd, "");
    const type = mimeType();
    recorder = new MediaRecorder(stream, type ? { mimeType: type, videoBitsPerSecond: 4000000 } : {});
    chunks = []; tilts = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      take = new Blob(chunks, { type: recorder.mimeType || type || "video/webm" });
      take.roll = medianRoll(); recorder = null;
      preview.src = URL.createObjectURL(take);
      $("#review").hidden = false; $("#stage").hidden = true;
    };
    recorder.start(1000); t0 = performance.now();
    recBtn.textContent = T.stop; recBtn.disabled = false; recBtn.dataset.state = "recording";
    const clock = $("#rectime"); clock.hidden = false;
    tick = setInterval(() => {
      const s = Math.floor((performance.now() - t0) / 1000);
      clock.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }, 250);
    setTimeout(checkFraming, 2000);
  }
  function end() {
    clearInterval(tick); recBtn.textContent = T.record; delete recBtn.dataset.state;
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }
  recBtn.addEventListener("click", () => (recBtn.dataset.state === "recording" ? end() : begin()));
  $("#retake").addEventListener("click", () => {
    $("#review").hidden = true; $("#stage").hidden = false; say(msg, ""); say(framing, "");
    $("#rectime").hidden = true; take = null;
  });

  // --- keeping the take until the server confirms (IndexedDB) ------------------------------------
  const db = () => new Promise((ok, fail) => {
    const req = indexedDB.open("formcoach-record", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("takes");
    req.onsuccess = () => ok(req.result); req.onerror = () => fail(req.error);
  });
  async function store(op, value) {
    const d = await db();
    return new Promise((ok, fail) => {
      const tx = d.transaction("takes", op === "get" ? "readonly" : "readwrite"), s = tx.objectStore("takes");
      const req = op === "get" ? s.get("pending") : op === "put" ? s.put(value, "pending") : s.delete("pending");
      req.onsuccess = () => ok(req.result); req.onerror = () => fail(req.error);
    });
  }

  // --- tus upload --------------------------------------------------------------------------
  const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
  const tus = (extra) => ({ "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrf(), ...extra });
  async function errorOf(res) {
    const body = await res.json().catch(() => ({}));
    return body.error ? body.error.message + " (" + body.error.code + ")" : "HTTP " + res.status;
  }
  async function offsetOf(url) {
    for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
      try {
        const res = await fetch(url, { method: "HEAD", headers: tus({}), credentials: "same-origin", cache: "no-store" });
        if (res.ok) return +res.headers.get("Upload-Offset");
        if (res.status === 404) return null;  // expired or gone: start again
      } catch (_) { /* still offline */ }
      await sleep(wait);
    }
  }
  async function send(rec) {
    const bar = $("#bar"), pct = $("#pct"), state = $("#upstate");
    state.hidden = false; say(msg, ""); $("#use").disabled = true;
    const size = rec.blob.size;
    const progress = (n) => { const p = Math.round((100 * n) / size); bar.value = p; pct.textContent = p + " %"; };
    try {
      for (;;) {
        if (!rec.url) {
          const meta = Object.entries(rec.fields).filter(([, v]) => v !== "" && v != null).map(([k, v]) => k + " " + b64(String(v))).join(",");
          const res = await fetch("/api/uploads?lang=" + lang(), { method: "POST", credentials: "same-origin", headers: tus({ "Upload-Length": String(size), "Upload-Metadata": meta }) });
          if (res.status !== 201) throw new Error(await errorOf(res));
          rec.url = res.headers.get("Location");
          await store("put", rec).catch(() => {});
        }
        let offset = await offsetOf(rec.url);
        if (offset === null) { rec.url = null; continue; }
        while (offset < size) {
          progress(offset);
          let res;
          try {
            res = await fetch(rec.url + "?lang=" + lang(), {
              method: "PATCH", credentials: "same-origin", body: rec.blob.slice(offset, Math.min(size, offset + CHUNK)),
              headers: tus({ "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" }),
            });
          } catch (_) {
            // Dropped: ask the server what it holds and go on from there.
            say(msg, T.retrying); panel.dataset.resumed = String(+(panel.dataset.resumed || 0) + 1);
            await sleep(1000); offset = await offsetOf(rec.url);
            if (offset === null) break;
            continue;
          }
          if (res.status === 204) { offset = +res.headers.get("Upload-Offset"); say(msg, ""); continue; }
          if (res.status === 409) { await sleep(500); offset = await offsetOf(rec.url); if (offset === null) break; continue; }
          throw new Error(await errorOf(res));
        }
        if (offset === null || offset < size) { rec.url = null; continue; }
        progress(size);
        const res = await fetch(rec.url + "/run?lang=" + lang(), { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } });
        const body = await res.json().catch(() => ({}));
        if (res.status === 202) { await store("delete").catch(() => {}); location.href = "/runs/" + body.id; return; }
        if (res.status === 422 || res.status === 415) await store("delete").catch(() => {});  // the clip itself was refused
        throw new Error(body.error ? body.error.message + " (" + body.error.code + ")" : "HTTP " + res.status);
      }
    } catch (e) {
      state.hidden = true; $("#use").disabled = false; say(msg, e.message);
    }
  }
  function fieldsNow() {
    const f = new FormData(form), out = {};
    for (const k of ["movement", "view", "height_cm", "language", "person"]) out[k] = f.get(k) || "";
    out.filename = "recording-" + new Date().toISOString().replace(/[:.]/g, "-") + (take.type.includes("mp4") ? ".mp4" : ".webm");
    if (take.roll != null) out.camera_roll_deg = String(take.roll);
    return out;
  }
  $("#use").addEventListener("click", async () => {
    if (!take) return;
    const rec = { blob: take, fields: fieldsNow(), url: null, created: Date.now() };
    await store("put", rec).catch(() => {});
    send(rec);
  });
  // A take left unsent (the page closed, the Wi-Fi gone) is offered again.
  store("get").then((rec) => {
    if (!rec || !rec.blob) return;
    mode(true); $("#kept").hidden = false;
    $("#send-kept").addEventListener("click", () => { $("#kept").hidden = true; mode(true); send(rec); });
    $("#discard-kept").addEventListener("click", () => { $("#kept").hidden = true; store("delete"); });
  }).catch(() => {});
  showTips();
})();
