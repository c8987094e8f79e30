// product-scene review page. Every string from the batch goes into the page through textContent
// or setAttribute, never as HTML. POSTs carry the session token from the page's <meta>.
(function () {
  "use strict";
  var TOKEN = document.querySelector('meta[name="review-token"]').getAttribute("content");
  var $ = function (id) { return document.getElementById(id); };
  var METRICS = [
    ["delta_e00_mean", "ΔE00 mean", "delta_e00_mean_max", "<=", 3],
    ["delta_e00_p95", "ΔE00 p95", "delta_e00_p95_max", "<=", 3],
    ["ssim", "SSIM", "ssim_min", ">=", 4],
    ["logo_ssim_min", "Logo SSIM (worst)", "logo_ssim_min", ">=", 4],
    ["expansion", "Expansion", "expansion_max", "<=", 4],
    ["halo", "Halo ΔE00", "halo_max", "<=", 2]
  ];
  var state = {
    batch: null, items: [], byId: {}, decisions: {}, published: {}, gate: {},
    visible: [], pos: -1, details: {}, shownVariant: null,
    fVerdict: "all", fDecision: "all", query: "",
    view: { s: 1, tx: 0, ty: 0, fitted: true }, frame: [1, 1], slider: 0.5,
    mode: "sbs", edges: false, heat: false, saving: 0, savedCount: 0
  };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function api(path, body) {
    var opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json", "X-Review-Token": TOKEN }, body: JSON.stringify(body)
    };
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var err = new Error(data.error || ("HTTP " + r.status)); err.status = r.status; throw err; }
        return data;
      });
    });
  }
  function fileUrl(rel, sha) {
    var parts = rel.split("/").map(encodeURIComponent).join("/");
    return "/files/" + parts + (sha ? "?sha256=" + sha : "");
  }
  function decisionOf(id) { var d = state.decisions[id]; return d && d.decision ? d.decision : "undecided"; }
  function current() { return state.pos >= 0 ? state.visible[state.pos] : null; }

  // ------------------------------------------------------------------ list and filters
  function matches(item) {
    if (state.fVerdict !== "all" && item.outcome !== state.fVerdict) { return false; }
    if (state.fDecision !== "all" && decisionOf(item.id) !== state.fDecision) { return false; }
    if (state.query) {
      var hay = (item.id + " " + (item.source || "")).toLowerCase();
      if (hay.indexOf(state.query) === -1) { return false; }
    }
    return true;
  }
  function refilter(keepId) {
    state.visible = state.items.filter(matches);
    var idx = -1;
    if (keepId) { for (var i = 0; i < state.visible.length; i++) { if (state.visible[i].id === keepId) { idx = i; break; } } }
    state.pos = idx >= 0 ? idx : (state.visible.length ? 0 : -1);
    renderList();
  }
  function renderList() {
    var rows = $("rows");
    rows.textContent = "";
    state.visible.forEach(function (item, i) {
      var b = el("button", "row" + (i === state.pos ? " current" : ""));
      b.type = "button";
      b.setAttribute("data-id", item.id);
      b.appendChild(el("span", "dot " + item.outcome));
      var name = el("span", "name", item.id);
      name.title = item.source || item.id;
      b.appendChild(name);
      var d = decisionOf(item.id);
      b.appendChild(el("span", "mark " + d, d === "approved" ? "✓" : d === "rejected" ? "✗" : ""));
      b.addEventListener("click", function () { go(i); });
      rows.appendChild(b);
    });
    $("list-empty").classList.toggle("hidden", state.visible.length > 0);
    var cur = rows.children[state.pos];
    if (cur) { cur.scrollIntoView({ block: "nearest" }); }
  }
  function renderCounts() {
    var n = { approved: 0, rejected: 0, undecided: 0 };
    state.items.forEach(function (it) { n[decisionOf(it.id)] += 1; });
    $("n-approved").textContent = n.approved;
    $("n-rejected").textContent = n.rejected;
    $("n-undecided").textContent = n.undecided;
    var total = Math.max(1, state.items.length);
    document.querySelector("#progress .approved").style.width = (100 * n.approved / total) + "%";
    document.querySelector("#progress .rejected").style.width = (100 * n.rejected / total) + "%";
  }
  function setSeg(group, value) {
    Array.prototype.forEach.call($(group).children, function (b) { b.classList.toggle("on", b.getAttribute("data-v") === value); });
  }
  function cycle(group, key) {
    var values = Array.prototype.map.call($(group).children, function (b) { return b.getAttribute("data-v"); });
    var next = values[(values.indexOf(state[key]) + 1) % values.length];
    state[key] = next; setSeg(group, next);
    var cur = current(); refilter(cur && cur.id); show();
  }

  // ------------------------------------------------------------------ item display
  function go(i) {
    if (i < 0 || i >= state.visible.length) { return; }
    state.pos = i;
    Array.prototype.forEach.call($("rows").children, function (r, k) { r.classList.toggle("current", k === i); });
    var row = $("rows").children[i];
    if (row) { row.scrollIntoView({ block: "nearest" }); }
    show();
  }
  function loadDetails(id) {
    if (!state.details[id]) {
      state.details[id] = api("/api/items/" + encodeURIComponent(id)).catch(function (e) { delete state.details[id]; throw e; });
    }
    return state.details[id];
  }
  function compositeOf(d, variant) {
    if (variant === null || variant === undefined || !d.variants[variant]) { return d.composite; }
    return d.variants[variant];
  }
  function show() {
    var item = current();
    $("viewer").removeAttribute("data-ready");
    if (!item) { clearItem(); return; }
    var dec = state.decisions[item.id];
    state.shownVariant = dec && dec.variant !== null && dec.variant !== undefined ? dec.variant : null;
    renderItemText(item);
    loadDetails(item.id).then(function (d) {
      if (current() !== item) { return; }
      renderImages(item, d);
      renderVariants(item, d);
      preload(state.pos + 1);
    }).catch(function (e) { status("Could not load " + item.id + ": " + e.message, "err"); });
  }
  function clearItem() {
    $("item-id").textContent = ""; $("item-source").textContent = ""; $("verdict").textContent = "";
    $("panes").classList.add("hidden");
  }
  function renderItemText(item) {
    $("item-id").textContent = item.id;
    $("item-source").textContent = item.source || "";
    var v = $("verdict"); v.className = "verdict " + item.outcome; v.textContent = item.outcome;
    renderDecision(item);
    renderGate(item.outcome === "error" ? [item.error || "error"] : item.reasons, "");
    renderMetrics(item.metrics);
  }
  function renderGate(reasons, label) {
    var list = $("reasons"); list.textContent = "";
    if (!reasons.length) { list.appendChild(el("li", "ok", "All checks passed" + label + ".")); }
    reasons.forEach(function (r) { list.appendChild(el("li", "", r)); });
  }
  function renderMetrics(metrics) {
    var body = document.querySelector("#metrics tbody"); body.textContent = "";
    METRICS.forEach(function (m) {
      if (!(m[0] in (metrics || {}))) { return; }
      var value = metrics[m[0]], limit = state.gate[m[2]];
      var bad = typeof value === "number" && typeof limit === "number" && (m[3] === "<=" ? value > limit : value < limit);
      var tr = el("tr", bad ? "bad" : "");
      tr.appendChild(el("th", "", m[1]));
      tr.appendChild(el("td", "", value === null || value === undefined ? "—" : Number(value).toFixed(m[4])));
      tr.appendChild(el("td", "", value === null || value === undefined ? "not gated" :
        (typeof limit === "number" ? (m[3] === "<=" ? "≤ " : "≥ ") + limit : "")));
      body.appendChild(tr);
    });
  }
  function renderDecision(item) {
    var d = decisionOf(item.id), entry = state.decisions[item.id];
    var now = $("decision-now"); now.className = "decision-now " + d;
    now.textContent = d === "approved" ? "✓ Approved" : d === "rejected" ? "✗ Rejected" : "Undecided";
    if (entry && entry.variant !== null && entry.variant !== undefined) { now.textContent += " · variant " + (entry.variant + 1); }
    if (document.activeElement !== $("note")) { $("note").value = entry ? entry.note || "" : ""; }
    status(entry && entry.reviewer ? "by " + entry.reviewer + " · " + (entry.decided_at || "").replace("T", " ").slice(0, 19) + " UTC" : "", "");
    var pub = state.published[item.id] || [], box = $("published");
    box.classList.toggle("hidden", !pub.length);
    box.textContent = pub.length ? "Published to " + pub.map(function (p) { return p.target + " as " + p.key; }).join(", ") +
      ". A new decision takes effect at the next `product-scene publish`." : "";
    document.querySelector('[data-act="approve"]').disabled = item.status !== "ok";
  }
  function renderImages(item, d) {
    var has = item.status === "ok" && d.composite;
    $("panes").classList.toggle("hidden", !has);
    $("noimage").classList.toggle("hidden", !!has);
    if (!has) { $("noimage-text").textContent = item.error || "no composite"; $("viewer").setAttribute("data-ready", item.id); return; }
    state.frame = d.frame_hw ? [d.frame_hw[1], d.frame_hw[0]] : null;
    var comp = compositeOf(d, state.shownVariant);
    var orig = d.has_original ? fileUrl(item.id + "/original.png") : "";
    var imgs = { "img-composite": fileUrl(comp.file, comp.sha256), "img-original": orig, "img-original-2": orig,
                 "img-edges": d.has_mask ? "/views/" + encodeURIComponent(item.id) + "/edges.png" : "",
                 "img-edges-2": d.has_mask ? "/views/" + encodeURIComponent(item.id) + "/edges.png" : "",
                 "img-heat": d.has_original ? heatUrl(item.id, state.shownVariant) : "" };
    Object.keys(imgs).forEach(function (k) {
      var img = $(k);
      if (!imgs[k]) { img.removeAttribute("src"); img.style.visibility = "hidden"; return; }
      img.style.visibility = "";
      if (img.getAttribute("src") !== imgs[k]) { img.setAttribute("src", imgs[k]); }
    });
    $("img-original").alt = "original of " + item.id;
    $("original-hint").textContent = d.has_original ? "in the composite's frame" :
      "not in this batch (written by product-scene runs since the review app; rerun to get it)";
    $("img-composite").alt = "composite of " + item.id;
    $("variant-label").textContent = d.variants.length > 1 ? "variant " + ((state.shownVariant === null ? (d.default_variant || 0) : state.shownVariant) + 1) + " of " + d.variants.length : "";
    var main = $("img-composite");
    var ready = function () {
      if (current() !== item) { return; }
      if (!state.frame) { state.frame = [main.naturalWidth, main.naturalHeight]; }
      sizeImages(); if (state.view.fitted) { fit(); } else { applyView(); }
      renderLogos(item, d);
      $("viewer").setAttribute("data-ready", item.id);
    };
    main.onerror = function () {
      if (current() !== item) { return; }
      status("The composite could not be loaded (changed since the page loaded? reload)", "err");
      $("viewer").setAttribute("data-ready", item.id);
    };
    if (main.complete && main.naturalWidth) { ready(); } else { main.onload = ready; }
  }
  function heatUrl(id, variant) { return "/views/" + encodeURIComponent(id) + "/heat.png" + (variant === null ? "" : "?variant=" + variant); }
  function preload(i) {
    var next = state.visible[i];
    if (!next || next.status !== "ok") { return; }
    loadDetails(next.id).then(function (d) {
      var nd = state.decisions[next.id], v = nd && nd.variant !== null && nd.variant !== undefined ? nd.variant : null;
      var c = compositeOf(d, v);
      [fileUrl(c.file, c.sha256), d.has_original ? fileUrl(next.id + "/original.png") : null].forEach(function (u) {
        if (u) { var im = new Image(); im.src = u; }
      });
    }).catch(function () {});
  }
  function renderVariants(item, d) {
    var box = $("variants"); box.textContent = "";
    $("variants-box").classList.toggle("hidden", d.variants.length < 2);
    if (d.variants.length < 2) { return; }
    var entry = state.decisions[item.id];
    var shown = state.shownVariant === null ? (d.default_variant || 0) : state.shownVariant;
    d.variants.forEach(function (v, k) {
      var b = el("button", "variant" + (k === shown ? " shown" : "") +
        (entry && entry.decision === "approved" && (entry.variant === null ? (d.default_variant || 0) : entry.variant) === k ? " chosen" : ""));
      b.type = "button";
      var img = el("img"); img.setAttribute("src", fileUrl(v.file, v.sha256)); img.alt = "variant " + (k + 1);
      b.appendChild(img);
      b.appendChild(el("span", "", (k + 1) + " · "));
      b.appendChild(el("span", "v-" + v.verdict, v.verdict));
      b.addEventListener("click", function () { pickVariant(k); });
      box.appendChild(b);
    });
  }
  function pickVariant(k) {
    var item = current();
    if (!item) { return; }
    loadDetails(item.id).then(function (d) {
      if (k >= d.variants.length) { return; }
      state.shownVariant = k;
      renderImages(item, d); renderVariants(item, d);
      var v = d.variants[k];
      renderGate(v.reasons, " (variant " + (k + 1) + ")");
      renderMetrics(v.metrics);
      status("Showing variant " + (k + 1) + " (" + v.verdict + "). Approve to choose it.", "");
    });
  }
  function renderLogos(item, d) {
    var box = $("logos"); box.textContent = "";
    $("logos-box").classList.toggle("hidden", !d.logo_boxes.length);
    d.logo_boxes.forEach(function (b) {
      var row = el("div", "logo");
      [$("img-original"), $("img-composite")].forEach(function (img) {
        var w = b[2] - b[0], h = b[3] - b[1], k = Math.min(8, 150 / Math.max(w, h));
        var c = el("canvas"); c.width = Math.round(w * Math.max(1, k)); c.height = Math.round(h * Math.max(1, k));
        var ctx = c.getContext("2d"); ctx.imageSmoothingQuality = "high";
        var draw = function () { try { ctx.drawImage(img, b[0], b[1], w, h, 0, 0, c.width, c.height); } catch (e) { /* not loaded */ } };
        if (img.complete && img.naturalWidth) { draw(); } else { img.addEventListener("load", draw, { once: true }); }
        row.appendChild(c);
      });
      box.appendChild(row);
    });
  }

  // ------------------------------------------------------------------ zoom, pan, slider
  function stages() { return state.mode === "sbs" ? [$("stage-a"), $("stage-b")] : [$("stage-b")]; }
  function sizeImages() {
    if (!state.frame) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".xf img"), function (img) {
      img.style.width = state.frame[0] + "px"; img.style.height = state.frame[1] + "px";
    });
  }
  function fit() {
    if (!state.frame) { return; }
    var st = $("stage-b").getBoundingClientRect();
    var s = Math.min(st.width / state.frame[0], st.height / state.frame[1]);
    state.view = { s: s, tx: (st.width - state.frame[0] * s) / 2, ty: (st.height - state.frame[1] * s) / 2, fitted: true };
    applyView();
  }
  function applyView() {
    var v = state.view, t = "translate(" + v.tx + "px," + v.ty + "px) scale(" + v.s + ")";
    Array.prototype.forEach.call(document.querySelectorAll(".xf"), function (x) { x.style.transform = t; });
    $("zoom").textContent = Math.round(v.s * 100) + "%";
    $("viewer").classList.toggle("pixelated", v.s >= 2);
    applySlider();
  }
  function zoomAt(factor, cx, cy) {
    var v = state.view, st = $("stage-b").getBoundingClientRect();
    if (cx === undefined) { cx = st.width / 2; cy = st.height / 2; }
    var s = Math.max(0.05, Math.min(32, v.s * factor));
    state.view = { s: s, tx: cx - (cx - v.tx) * s / v.s, ty: cy - (cy - v.ty) * s / v.s, fitted: false };
    applyView();
  }
  function pan(dx, dy) { state.view.tx += dx; state.view.ty += dy; state.view.fitted = false; applyView(); }
  function applySlider() {
    var w = $("stage-b").getBoundingClientRect().width, x = Math.round(w * state.slider);
    $("layer-clip").style.clipPath = "inset(0 " + (w - x) + "px 0 0)";
    $("divider").style.left = x + "px";
  }
  function setMode(mode) {
    state.mode = mode;
    $("panes").className = mode;
    document.querySelector('[data-act="slider"]').classList.toggle("on", mode === "slider");
    requestAnimationFrame(function () { if (state.view.fitted) { fit(); } else { applyView(); } });
  }
  function toggle(name) {
    state[name] = !state[name];
    document.body.classList.toggle("show-" + name, state[name]);
    document.querySelector('[data-act="' + name + '"]').classList.toggle("on", state[name]);
    if (name === "heat") { $("heat-legend").classList.toggle("off", !state.heat); }
  }
  function wireStage(stage) {
    var drag = null;
    stage.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = stage.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    stage.addEventListener("mousedown", function (e) {
      var r = stage.getBoundingClientRect();
      if (state.mode === "slider" && e.shiftKey === false && Math.abs(e.clientX - r.left - r.width * state.slider) < 12) {
        drag = { slider: true, r: r };
      } else { drag = { x: e.clientX, y: e.clientY }; }
      stage.classList.add("dragging"); e.preventDefault();
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) { return; }
      if (drag.slider) { state.slider = Math.max(0, Math.min(1, (e.clientX - drag.r.left) / drag.r.width)); applySlider(); return; }
      pan(e.clientX - drag.x, e.clientY - drag.y); drag.x = e.clientX; drag.y = e.clientY;
    });
    window.addEventListener("mouseup", function () { drag = null; stage.classList.remove("dragging"); });
  }

  // ------------------------------------------------------------------ deciding
  function status(text, cls) { var s = $("status"); s.textContent = text; s.className = "status " + (cls || ""); }
  function decide(decision, opts) {
    var item = current();
    if (!item) { return Promise.resolve(); }
    opts = opts || {};
    return loadDetails(item.id).then(function (d) {
      var variant = d.variants.length > 1 ? state.shownVariant : null;
      var comp = item.status === "ok" && d.composite ? compositeOf(d, variant) : null;
      var note = opts.note !== undefined ? opts.note : $("note").value;
      state.saving += 1;
      status("Saving…", "");
      return api("/api/decisions", { item_id: item.id, decision: decision, note: note, variant: variant,
                                     composite_sha256: comp ? comp.sha256 : null });
    }).then(function (res) {
      state.saving -= 1; state.savedCount += 1;
      state.decisions = res.decisions; state.revision = Math.max(state.revision || 0, res.revision);
      document.body.setAttribute("data-saved", String(state.savedCount));
      renderCounts(); renderMarks();
      if (current() === item) { renderDecision(item); status("Saved · " + res.entry.decision + " by " + res.entry.reviewer, "ok"); }
      if (opts.next) { next(); }
    }).catch(function (e) {
      state.saving = Math.max(0, state.saving - 1);
      status("Not saved: " + e.message, "err");
    });
  }
  function next() {
    var cur = current(), i = state.pos + 1;
    var target = state.visible[i] || null;
    refilter(target ? target.id : (cur && cur.id));
    show();
  }
  function prev() { go(state.pos - 1); }
  function approvePassedDialog() {
    var n = state.items.filter(function (it) { return it.status === "ok" && it.verdict === "pass" && decisionOf(it.id) === "undecided"; }).length;
    $("confirm-text").textContent = n ? "Approve " + n + " passed item" + (n === 1 ? "" : "s") + " that have no decision yet?" : "Every passed item already has a decision.";
    var yes = $("confirm-yes");
    yes.textContent = "Approve " + n + " item" + (n === 1 ? "" : "s") + " (Enter)";
    yes.disabled = !n; yes.setAttribute("data-count", String(n));
    $("confirm").classList.remove("hidden");
    (n ? yes : $("confirm-no")).focus();
  }
  function closeDialog() { $("confirm").classList.add("hidden"); }
  function approvePassed() {
    var n = parseInt($("confirm-yes").getAttribute("data-count"), 10);
    closeDialog();
    status("Approving " + n + " items…", "");
    api("/api/approve-passed", { count: n }).then(function (res) {
      state.decisions = res.decisions; state.savedCount += 1; state.revision = res.revision;
      document.body.setAttribute("data-saved", String(state.savedCount));
      renderCounts(); var cur = current(); refilter(cur && cur.id); if (cur) { renderDecision(cur); }
      status("Approved " + res.approved.length + " passed items", "ok");
    }).catch(function (e) { status("Not saved: " + e.message, "err"); });
  }

  // ------------------------------------------------------------------ keyboard
  function onKey(e) {
    if (!$("confirm").classList.contains("hidden")) {
      if (e.key === "Escape") { closeDialog(); e.preventDefault(); }
      else if (e.key === "Enter" && document.activeElement === $("confirm-yes")) { approvePassed(); e.preventDefault(); }
      return;
    }
    var t = e.target;
    if (t === $("note")) {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault(); var item = current();
        state.enterSaving = true; t.blur(); state.enterSaving = false;
        decide(item ? decisionOf(item.id) : "undecided", { note: t.value, next: true });
      } else if (e.key === "Escape") { e.preventDefault(); t.blur(); }
      return;
    }
    if (t === $("search")) {
      if (e.key === "Escape" || e.key === "Enter") { e.preventDefault(); t.blur(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var k = e.key, handled = true, step = 60;
    if (e.shiftKey && k.indexOf("Arrow") === 0) {
      pan(k === "ArrowLeft" ? step : k === "ArrowRight" ? -step : 0, k === "ArrowUp" ? step : k === "ArrowDown" ? -step : 0);
    } else if (k === "j" || k === "ArrowDown" || k === "ArrowRight") { go(state.pos + 1); }
    else if (k === "k" || k === "ArrowUp" || k === "ArrowLeft") { prev(); }
    else if (k === "a") { decide("approved", { next: true }); }
    else if (k === "r") { decide("rejected"); $("note").focus(); }
    else if (k === "u") { decide("undecided"); }
    else if (k === "n") { $("note").focus(); }
    else if (k === "s") { setMode(state.mode === "sbs" ? "slider" : "sbs"); }
    else if (k === "[") { state.slider = Math.max(0, state.slider - 0.05); applySlider(); }
    else if (k === "]") { state.slider = Math.min(1, state.slider + 0.05); applySlider(); }
    else if (k === "+" || k === "=") { zoomAt(1.5); }
    else if (k === "-" || k === "_") { zoomAt(1 / 1.5); }
    else if (k === "0") { fit(); }
    else if (k === "e") { toggle("edges"); }
    else if (k === "h") { toggle("heat"); }
    else if (k === "v") { cycle("f-verdict", "fVerdict"); }
    else if (k === "d") { cycle("f-decision", "fDecision"); }
    else if (k === "/") { $("search").focus(); }
    else if (k === "P") { approvePassedDialog(); }
    else if (/^[1-9]$/.test(k)) { pickVariant(parseInt(k, 10) - 1); }
    else { handled = false; }
    if (handled) { e.preventDefault(); }
  }

  // ------------------------------------------------------------------ start
  function wire() {
    document.addEventListener("keydown", onKey);
    ["f-verdict", "f-decision"].forEach(function (g) {
      Array.prototype.forEach.call($(g).children, function (b) {
        b.addEventListener("click", function () {
          var key = g === "f-verdict" ? "fVerdict" : "fDecision";
          state[key] = b.getAttribute("data-v"); setSeg(g, state[key]);
          var cur = current(); refilter(cur && cur.id); show(); b.blur();
        });
      });
    });
    $("note").addEventListener("change", function () {  // leaving the field (Esc, click) keeps the note
      var item = current(), entry = item && state.decisions[item.id];
      if (item && (entry ? entry.note || "" : "") !== $("note").value && !state.enterSaving) {
        decide(decisionOf(item.id), { note: $("note").value });
      }
    });
    $("search").addEventListener("input", function () {
      state.query = $("search").value.trim().toLowerCase(); var cur = current(); refilter(cur && cur.id); show();
    });
    document.querySelectorAll("[data-act]").forEach(function (b) {
      b.addEventListener("click", function () {
        var a = b.getAttribute("data-act");
        if (a === "approve") { decide("approved", { next: true }); }
        else if (a === "reject") { decide("rejected"); $("note").focus(); }
        else if (a === "undecide") { decide("undecided"); }
        else if (a === "slider") { setMode(state.mode === "sbs" ? "slider" : "sbs"); }
        else if (a === "edges" || a === "heat") { toggle(a); }
        else if (a === "zoom-in") { zoomAt(1.5); } else if (a === "zoom-out") { zoomAt(1 / 1.5); } else if (a === "fit") { fit(); }
        b.blur();
      });
    });
    $("approve-passed").addEventListener("click", function () { $("approve-passed").blur(); approvePassedDialog(); });
    $("confirm-yes").addEventListener("click", approvePassed);
    $("confirm-no").addEventListener("click", closeDialog);
    [$("stage-a"), $("stage-b")].forEach(wireStage);
    window.addEventListener("resize", function () { if (state.view.fitted) { fit(); } else { applyView(); } });
  }
  function renderMarks() {
    Array.prototype.forEach.call($("rows").children, function (row) {
      var d = decisionOf(row.getAttribute("data-id")), mark = row.querySelector(".mark");
      mark.className = "mark " + d; mark.textContent = d === "approved" ? "✓" : d === "rejected" ? "✗" : "";
    });
  }
  // Other tabs and reviewers: pick up their decisions every few seconds (never while we save).
  function poll() {
    if (document.hidden || state.saving) { return; }
    api("/api/decisions").then(function (res) {
      if (res.revision <= (state.revision || 0) || state.saving) { return; }
      state.revision = res.revision; state.decisions = res.decisions;
      renderCounts(); renderMarks();
      var cur = current();
      if (cur && document.activeElement !== $("note")) { renderDecision(cur); }
    }).catch(function () {});
  }
  function start() {
    wire();
    api("/api/batch").then(function (b) {
      state.batch = b; state.items = b.items; state.decisions = b.decisions || {}; state.published = b.published || {};
      state.gate = b.gate || {};
      b.items.forEach(function (it) { state.byId[it.id] = it; });
      var counts = { all: b.items.length, fail: 0, error: 0, pass: 0 };
      b.items.forEach(function (it) { counts[it.outcome] += 1; });
      Array.prototype.forEach.call($("f-verdict").children, function (btn) {
        btn.appendChild(el("span", "n", counts[btn.getAttribute("data-v")]));
      });
      renderCounts(); refilter(null); show();
      state.revision = b.revision || 0;
      document.body.setAttribute("data-loaded", "1");
      setInterval(poll, 4000);
    }).catch(function (e) { status("Could not load the batch: " + e.message, "err"); });
  }
  start();
})();
