// gankit explorer: plain JS over the JSON API (no build step, no CDN).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, samples: [], picked: [], plus: [], minus: [], base: null, uploaded: null };

async function api(path, body) {
  const init = body instanceof FormData ? { method: "POST", body }
    : body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
    throw new Error(detail || `${res.status} ${res.statusText}`);
  }
  return data;
}

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? String(err.message || err) : "";
}

async function guarded(fn) {
  showError(null);
  try { await fn(); } catch (err) { showError(err); }
}

function common() {
  const label = state.info.num_classes ? $("class").value : null;
  return { psi: parseFloat($("psi").value), label };
}

// A tile: the image, a download link, and optional buttons [text, handler].
function tile(src, name, buttons = [], caption = "", onClick = null) {
  const fig = document.createElement("figure");
  fig.className = "tile";
  const img = document.createElement("img");
  img.src = src;
  img.alt = name;
  if (onClick) img.addEventListener("click", () => onClick(fig));
  fig.appendChild(img);
  const actions = document.createElement("div");
  actions.className = "actions";
  for (const [text, handler] of buttons) {
    const b = document.createElement("button");
    b.textContent = text;
    b.addEventListener("click", handler);
    actions.appendChild(b);
  }
  const a = document.createElement("a");
  a.href = src;
  a.download = `${name}.png`;
  a.textContent = "⬇";
  a.title = "download PNG";
  actions.appendChild(a);
  fig.appendChild(actions);
  if (caption) {
    const c = document.createElement("figcaption");
    c.textContent = caption;
    fig.appendChild(c);
  }
  return fig;
}

function renderGrid() {
  const grid = $("grid");
  grid.replaceChildren();
  state.samples.forEach((s, i) => {
    const fig = tile(s.image, s.name, [["+", () => addTo("plus", s)], ["−", () => addTo("minus", s)]],
      s.name, () => pick(s, fig));
    fig.dataset.index = i;
    if (state.picked.includes(s)) fig.classList.add("selected");
    grid.appendChild(fig);
  });
}

async function loadSamples() {
  const seed = Math.max(0, parseInt($("seed").value || "0", 10));
  const n = 16;
  const seeds = Array.from({ length: n }, (_, i) => seed + i);
  const out = await api("/api/sample", { seeds, ...common() });
  state.samples = out.images.map((image, i) => ({ image, latent: out.latents[i], name: `seed ${seeds[i]}` }));
  if (state.uploaded) state.samples.push(state.uploaded);
  state.picked = [];
  renderGrid();
  updateButtons();
}

function pick(sample) {
  state.picked = state.picked.filter((p) => p !== sample);
  state.picked.push(sample);
  if (state.picked.length > 2) state.picked.shift();
  state.base = sample;
  renderGrid();
  renderGroups();
  updateButtons();
}

function addTo(group, sample) {
  state[group].push(sample);
  renderGroups();
  updateButtons();
}

function renderGroups() {
  for (const group of ["plus", "minus"]) {
    $(group).replaceChildren(...state[group].map((s, i) =>
      tile(s.image, s.name, [["✕", () => { state[group].splice(i, 1); renderGroups(); updateButtons(); }]])));
  }
  $("base").replaceChildren(...(state.base ? [tile(state.base.image, state.base.name)] : []));
}

function updateButtons() {
  $("interpolate").disabled = state.picked.length < 2;
  $("interp-pair").textContent = state.picked.length < 2 ? "pick two samples"
    : `${state.picked[0].name} → ${state.picked[1].name}`;
  $("compute").disabled = !(state.plus.length && state.minus.length);
  $("invert").disabled = !$("upload").files.length;
}

let frames = [];
async function interpolate() {
  const [a, b] = state.picked;
  const out = await api("/api/interpolate", {
    a: a.latent, b: b.latent, steps: parseInt($("frames").value, 10), mode: $("mode").value, ...common(),
  });
  frames = out.images;
  $("strip").replaceChildren(...frames.map((src, i) => tile(src, `frame ${i}`)));
  $("scrub").max = String(frames.length - 1);
  $("scrub").value = "0";
  scrub();
}

function scrub() {
  const i = parseInt($("scrub").value, 10);
  if (!frames.length) return;
  const img = document.createElement("img");
  img.src = frames[i];
  img.alt = `frame ${i}`;
  $("scrub-view").replaceChildren(img);
}

async function compute() {
  const alpha = parseFloat($("alpha").value);
  const groups = { plus: { latents: state.plus.map((s) => s.latent) },
    minus: { latents: state.minus.map((s) => s.latent) } };
  const out = await api("/api/arithmetic", { groups, expression: "plus - minus", ...common() });
  const shown = [tile(out.groups.plus, "mean plus", [], "mean(+)"), tile(out.groups.minus, "mean minus", [], "mean(−)"),
    tile(out.images[0], "plus minus minus", [], "mean(+) − mean(−)")];
  if (state.base) {
    const edit = await api("/api/edit", {
      target: { latents: [state.base.latent] }, positive: groups.plus, negative: groups.minus, alphas: [0, alpha],
      ...common(),
    });
    shown.push(tile(edit.images[0], "base", [], `${state.base.name}`),
      tile(edit.images[1], "edited", [], `+ α·direction (α=${alpha})`));
  }
  $("arith-result").replaceChildren(...shown);
}

async function invert() {
  const form = new FormData();
  form.append("file", $("upload").files[0]);
  form.append("steps", $("invert-steps").value);
  if ($("is-sketch").checked) form.append("sketch", "true");
  if (state.info.num_classes) form.append("label", $("class").value);
  const out = await api("/api/invert", form);
  state.uploaded = { image: out.images[0], latent: out.latents[0], name: "inverted" };
  $("invert-result").replaceChildren(tile(out.target, "target", [], "your image"),
    tile(out.images[0], "inverted", [["use", () => pick(state.uploaded)]], `reconstruction, MSE ${out.mse.toFixed(4)}`));
  state.samples = state.samples.filter((s) => s.name !== "inverted").concat([state.uploaded]);
  renderGrid();
}

// Image to image: a canvas to draw on (dark strokes on white, as the training drawings) or an upload.
function setupCanvas() {
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => { last = at(e); canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = parseFloat($("pen").value);
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const end = () => { if (last) { last = null; guarded(() => translate(null)); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  $("clear-canvas").addEventListener("click", clear);
}

async function translate(file) {
  const blob = file || await new Promise((resolve) => $("canvas").toBlob(resolve, "image/png"));
  const form = new FormData();
  form.append("file", blob, "drawing.png");
  form.append("seed", String(Math.max(0, parseInt($("translate-seed").value || "0", 10))));
  const out = await api("/api/translate", form);
  $("translate-result").replaceChildren(tile(out.source, "input", [], "as the run takes it"),
    tile(out.image, "output", [], "output"));
}

function startTranslate(i) {
  for (const id of ["grid-section", "interp-section", "arith-section", "invert-section"]) $(id).hidden = true;
  $("translate-section").hidden = false;
  const [c, h, w] = i.source_shape;
  $("translate-hint").textContent = i.source_shape[1] < i.shape[1]
    ? `upscales ×${i.shape[1] / h}: upload a small image (any size up to 512 px)`
    : `the run takes ${w}×${h} ${c === 1 ? "grayscale" : "colour"} drawings; yours are resized`;
  setupCanvas();
  $("translate").addEventListener("click", () => guarded(() => translate($("translate-upload").files[0] || null)));
  $("translate-upload").addEventListener("change", () => guarded(() => translate($("translate-upload").files[0])));
  document.body.dataset.ready = "1";
}

async function start() {
  state.info = await api("/api/info");
  const i = state.info;
  $("info").textContent = `${i.dataset || "generator"} · step ${i.step} · ${i.shape.join("×")} · z ${i.z_dim}`;
  $("report-link").hidden = !i.report;
  if (i.source_shape) return startTranslate(i);
  $("psi").value = String(i.psi);  // the run's own truncation (model.psi) until the slider moves
  $("psi-out").textContent = i.psi.toFixed(2);
  if (i.num_classes) {
    $("class-label").hidden = false;
    $("class").replaceChildren(...i.class_names.map((name) => new Option(name, name)));
  }
  $("shuffle").addEventListener("click", () => guarded(() => {
    $("seed").value = String(Math.floor(Math.random() * 100000));
    return loadSamples();
  }));
  for (const id of ["seed", "class"]) $(id).addEventListener("change", () => guarded(loadSamples));
  $("psi").addEventListener("input", () => { $("psi-out").textContent = parseFloat($("psi").value).toFixed(2); });
  $("psi").addEventListener("change", () => guarded(loadSamples));
  $("alpha").addEventListener("input", () => { $("alpha-out").textContent = parseFloat($("alpha").value).toFixed(2); });
  $("alpha").addEventListener("change", () => { if (!$("compute").disabled) guarded(compute); });
  $("interpolate").addEventListener("click", () => guarded(interpolate));
  $("scrub").addEventListener("input", scrub);
  $("compute").addEventListener("click", () => guarded(compute));
  $("clear-groups").addEventListener("click", () => { state.plus = []; state.minus = []; renderGroups(); updateButtons(); });
  $("upload").addEventListener("change", updateButtons);
  $("invert").addEventListener("click", () => guarded(invert));
  await loadSamples();
  document.body.dataset.ready = "1";
}

guarded(start);
