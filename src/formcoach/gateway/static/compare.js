// formcoach compare page: both videos play, pause, seek, change speed and step by a frame
// together; the two skeletons are drawn over each other at matching phases.
// Plain script, no libraries.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const vids = Array.from(document.querySelectorAll(".syncvideo"));
  if (vids.length !== 2) return;
  const [lead, follow] = vids, button = $("#syncplay"), range = $("#syncseek");
  const longest = () => Math.max(lead.duration || 0, follow.duration || 0);
  const seekBoth = (times) => vids.forEach((v, i) => {
    v.currentTime = Math.max(0, Math.min(times[i], v.duration || times[i]));
  });

  button.addEventListener("click", () => {
    const play = lead.paused;
    for (const v of vids) { if (play) v.play().catch(() => {}); else v.pause(); }
  });
  range.addEventListener("input", () => {
    const t = (range.value / 1000) * longest();
    seekBoth([t, t]);
  });
  lead.addEventListener("timeupdate", () => {
    if (longest()) range.value = Math.round(1000 * lead.currentTime / longest());
    // Keep the pair within a frame or two: each element's clock drifts on its own.
    if (!lead.paused && Math.abs(follow.currentTime - lead.currentTime) > 0.08 && lead.currentTime < (follow.duration || 0)) {
      follow.currentTime = lead.currentTime;
    }
  });

  // Slow motion: the same rate on both, so they stay in step.
  const speeds = Array.from(document.querySelectorAll("button.speed"));
  speeds.forEach((b) => b.addEventListener("click", () => {
    const rate = Number(b.dataset.rate);
    for (const v of vids) { v.playbackRate = rate; v.defaultPlaybackRate = rate; }
    speeds.forEach((o) => o.setAttribute("aria-pressed", String(o === b)));
  }));

  // One frame of each video's own rate (the two clips may be filmed at different rates).
  const step = (direction) => {
    for (const v of vids) {
      v.pause();
      const frame = 1 / (Number(v.dataset.fps) || 30);
      v.currentTime = Math.max(0, Math.min(v.currentTime + direction * frame, v.duration || Infinity));
    }
  };
  $("#framestep-back")?.addEventListener("click", () => step(-1));
  $("#framestep-forward")?.addEventListener("click", () => step(1));

  // --- the skeleton overlay ---------------------------------------------------------------
  const canvas = $("#overlay"), source = $("#overlay-data");
  if (!canvas || !source) return;
  const data = JSON.parse(source.textContent);
  const ctx = canvas.getContext("2d");
  const styles = [
    { colour: "#8a4b00", dash: [7, 5], mark: "circle" },  // before: dashed, circles
    { colour: "#084a8c", dash: [], mark: "square" },      // after: solid, squares
  ];
  let index = 0;

  function draw(pair) {
    const pts = pair.skeletons.flatMap((s) => Object.values(s).filter(Boolean));
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 24, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
    const k = Math.min(w / ((x1 - x0) || 1), h / ((y1 - y0) || 1));
    const ox = pad + (w - k * (x1 - x0)) / 2, oy = pad + (h - k * (y1 - y0)) / 2;
    const at = (p) => [ox + k * (p[0] - x0), oy + k * (p[1] - y0)];
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    pair.skeletons.forEach((skeleton, i) => {
      const st = styles[i];
      ctx.strokeStyle = st.colour; ctx.fillStyle = st.colour; ctx.lineWidth = 3;
      ctx.setLineDash(st.dash);
      for (const [a, b] of data.bones) {
        if (!skeleton[a] || !skeleton[b]) continue;
        const [p, q] = [at(skeleton[a]), at(skeleton[b])];
        ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
      }
      ctx.setLineDash([]);
      for (const p of Object.values(skeleton)) {
        if (!p) continue;
        const [x, y] = at(p);
        ctx.beginPath();
        if (st.mark === "circle") ctx.arc(x, y, 4, 0, 2 * Math.PI); else ctx.rect(x - 4, y - 4, 8, 8);
        ctx.fill();
      }
    });
  }

  function label() {
    const pair = data.pairs[index];
    const side = pair.side ? ` (${data.side[pair.side] || pair.side})` : "";
    $("#phase-label").textContent = `${data.phase}${side} · ${index + 1} / ${data.pairs.length}`;
  }

  function show(i) {
    index = (i + data.pairs.length) % data.pairs.length;
    const pair = data.pairs[index];
    label();
    draw(pair);
    // Both videos at this instance, paused: the coach sees the frames the skeletons are from.
    for (const v of vids) v.pause();
    seekBoth(pair.times_s);
  }
  $("#phase-prev").addEventListener("click", () => show(index - 1));
  $("#phase-next").addEventListener("click", () => show(index + 1));
  // The overlay is drawn at once; the videos are moved there only when asked.
  draw(data.pairs[0]);
  label();
})();
