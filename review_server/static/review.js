// product-scene review page: one queue of products across a destination's batches.
// Every string from the data goes into the page through textContent or setAttribute, never as
// HTML. POSTs carry the session token from the page's <meta>.
//
// Structure (so another mode, e.g. "fix cut-out", can be added from its own script file):
//   core     state, api(), the queue list, the product panel, the image viewer
//   modes    ProductSceneReview.registerMode(name, {label, key, enter(ctx), leave(ctx), onKey(e, ctx), shown(ctx)})
//            the "review" mode (approve / reject / undecided, approve all passed) is the first one;
//            a mode with a ``key`` is entered by that key from any other mode; its onKey sees every
//            key first while it is active; every mode's shown() runs when a product is shown.
//            ProductSceneReview.setMode(name) switches, ctx = ProductSceneReview (current(), reload(),
//            forget(pid)...). fix.js adds "fix" (key F).
(function () {
  "use strict";
  var TOKEN = document.querySelector('meta[name="review-token"]').getAttribute("content");
  var $ = function (id) { return document.getElementById(id); };
  var PAGE = 250;
  var state = {
    rows: [], total: 0, byPid: {}, pos: -1, revision: 0, counts: null, batches: [], scope: null,
    filter: { batch: "", outcome: "all", decision: "undecided", rejected_before: false, q: "" },
    details: {}, shown: null, shownVariant: null, loadingMore: false,
    view: { s: 1, tx: 0, ty: 0, fitted: true }, frame: [1, 1], slider: 0.5,
    pane: "sbs", edges: false, heat: false, saving: 0, savedCount: 0
  };
  var modes = {}, activeMode = null;

  // ------------------------------------------------------------------ helpers
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
  function query(extra) {
    var f = state.filter, p = [];
    if (f.batch) { p.push("batch=" + encodeURIComponent(f.batch)); }
    p.push("outcome=" + f.outcome, "decision=" + f.decision);
    if (f.rejected_before) { p.push("rejected_before=1"); }
    if (f.q) { p.push("q=" + encodeURIComponent(f.q)); }
    Object.keys(extra || {}).forEach(function (k) { p.push(k + "=" + encodeURIComponent(extra[k])); });
    return p.join("&");
  }
  function fileUrl(home, rel, sha) {
    var parts = (home + "/" + rel).split("/").map(encodeURIComponent).join("/");
    return "/files/" + parts + (sha ? "?sha256=" + sha : "");
  }
  function viewUrl(home, item, kind, variant) {
    return "/views/" + encodeURIComponent(home) + "/" + encodeURIComponent(item) + "/" + kind +
      (variant === null || variant === undefined ? "" : "?variant=" + variant);
  }
  function when(iso) { return (iso || "").replace("T", " ").slice(0, 16); }
  function current() { return state.pos >= 0 ? state.rows[state.pos] : null; }
  function status(text, cls) { var s = $("status"); s.textContent = text; s.className = "status " + (cls || ""); }
  var STATE_MARK = { approved: "✓", rejected: "✗", undecided: "" };

  // ------------------------------------------------------------------ queue
  function loadQueue(keepPid) {
    return api("/api/queue?" + query({ offset: 0, limit: PAGE })).then(function (res) {
      state.rows = res.rows; state.total = res.total; state.revision = res.revision;
      state.byPid = {}; res.rows.forEach(function (r) { state.byPid[r.product] = r; });
      setCounts(res.counts); setBatches(res.batches, res.scope);
      var idx = -1;
      if (keepPid) { for (var i = 0; i < state.rows.length; i++) { if (state.rows[i].product === keepPid) { idx = i; break; } } }
      state.pos = idx >= 0 ? idx : (state.rows.length ? 0 : -1);
      renderList(); show();
    });
  }
  function loadMore() {
    if (state.loadingMore || state.rows.length >= state.total) { return Promise.resolve(); }
    state.loadingMore = true;
    return api("/api/queue?" + query({ offset: state.rows.length, limit: PAGE })).then(function (res) {
      res.rows.forEach(function (r) { if (!state.byPid[r.product]) { state.byPid[r.product] = r; state.rows.push(r); appendRow(r, state.rows.length - 1); } });
      state.total = res.total; state.loadingMore = false; renderMore();
    }).catch(function (e) { state.loadingMore = false; status("Could not load more: " + e.message, "err"); });
  }
  function rowButton(row, i) {
    var b = el("button", "row" + (i === state.pos ? " current" : ""));
    b.type = "button";
    b.setAttribute("data-id", row.product);
    fillRow(b, row);
    b.addEventListener("click", function () { go(state.rows.indexOf(state.byPid[row.product])); });
    return b;
  }
  function fillRow(b, row) {
    b.textContent = "";
    b.appendChild(el("span", "dot " + row.outcome));
    var text = el("span", "text");
    text.appendChild(el("span", "name", row.label));
    var sub = row.home + (row.versions > 1 ? " · " + row.versions + " versions" : "") + (row.rejected_before ? " · rejected before" : "");
    text.appendChild(el("span", "sub" + (row.rejected_before ? " warn" : ""), sub));
    b.appendChild(text);
    b.appendChild(el("span", "mark " + row.state + (row.carried ? " carried" : ""), STATE_MARK[row.state]));
    b.setAttribute("data-state", row.state);
  }
  function renderList() {
    var rows = $("rows"); rows.textContent = "";
    var frag = document.createDocumentFragment();
    state.rows.forEach(function (row, i) { frag.appendChild(rowButton(row, i)); });
    rows.appendChild(frag);
    $("list-empty").classList.toggle("hidden", state.rows.length > 0);
    renderMore();
    var cur = rows.children[state.pos];
    if (cur) { cur.scrollIntoView({ block: "nearest" }); }
  }
  function appendRow(row, i) { $("rows").appendChild(rowButton(row, i)); }
  function renderMore() {
    var more = state.total - state.rows.length;
    $("list-more").classList.toggle("hidden", more <= 0);
    $("list-more").textContent = more > 0 ? more + " more (they load as you go down)" : "";
  }
  function updateRow(row) {
    var old = state.byPid[row.product];
    if (!old) { return null; }
    var i = state.rows.indexOf(old);
    state.rows[i] = row; state.byPid[row.product] = row;
    var b = $("rows").children[i];
    if (b) { fillRow(b, row); }
    forget(row.product);
    return old;
  }
  function forget(pid) {
    Object.keys(state.details).forEach(function (k) { if (k.indexOf(pid + "\n") === 0) { delete state.details[k]; } });
  }
  function setCounts(c) {
    state.counts = c;
    $("n-products").textContent = c.products; $("n-undecided").textContent = c.decision.undecided;
    $("n-approved").textContent = c.decision.approved; $("n-rejected").textContent = c.decision.rejected;
    $("n-before").textContent = c.rejected_before;
    var total = Math.max(1, c.products);
    document.querySelector("#progress .approved").style.width = (100 * c.decision.approved / total) + "%";
    document.querySelector("#progress .rejected").style.width = (100 * c.decision.rejected / total) + "%";
    Array.prototype.forEach.call($("f-outcome").children, function (btn) {
      var v = btn.getAttribute("data-v"), n = v === "all" ? c.products : c.outcome[v];
      var span = btn.querySelector(".n") || btn.appendChild(el("span", "n"));
      span.textContent = n;
    });
  }
  function countDelta(old, row) {  // our own decision: adjust the counts without asking the server
    var c = state.counts;
    if (!c || !old) { return; }
    c.decision[old.state] -= 1; c.decision[row.state] += 1;
    c.rejected_before += (row.rejected_before ? 1 : 0) - (old.rejected_before ? 1 : 0);
    c.approvable += (row.approvable ? 1 : 0) - (old.approvable ? 1 : 0);
    setCounts(c);
  }
  function setBatches(batches, scope) {
    state.batches = batches; state.scope = scope;
    var sel = $("f-batch");
    if (sel.options.length === batches.length + 1) { return; }
    sel.textContent = "";
    if (!scope) { sel.appendChild(el("option", "", "All batches")).value = ""; }
    batches.forEach(function (b) {
      if (scope && b.id !== scope) { return; }
      var o = el("option", "", b.id + (b.kind === "fixes" ? " (reviewers' fixes)" : ""));
      o.value = b.id; sel.appendChild(o);
    });
    sel.value = scope || state.filter.batch;
    sel.disabled = !!scope;
  }

  // ------------------------------------------------------------------ the product panel
  function go(i) {
    if (i < 0 || i >= state.rows.length) { return; }
    state.pos = i;
    Array.prototype.forEach.call($("rows").children, function (r, k) { r.classList.toggle("current", k === i); });
    var row = $("rows").children[i];
    if (row) { row.scrollIntoView({ block: "nearest" }); }
    if (i >= state.rows.length - 20) { loadMore(); }
    show();
  }
  function loadProduct(pid, versionId) {
    var key = pid + "\n" + (versionId || "");
    if (!state.details[key]) {
      state.details[key] = api("/api/product?id=" + encodeURIComponent(pid) + (versionId ? "&version=" + encodeURIComponent(versionId) : ""))
        .catch(function (e) { delete state.details[key]; throw e; });
    }
    return state.details[key];
  }
  function show(versionId) {
    var row = current();
    $("viewer").removeAttribute("data-ready");
    if (!row) { clearItem(); $("viewer").setAttribute("data-ready", "none"); return; }
    renderHead(row, null);
    loadProduct(row.product, versionId).then(function (p) {
      if (current() !== row) { return; }
      state.shown = p; state.shownVariant = null;
      var mine = lastDecision(p);
      if (mine && mine.variant !== null && mine.variant !== undefined) { state.shownVariant = mine.variant; }
      renderHead(row, p); renderDecision(p); renderReasons(p.version.reasons, "");
      renderChecks(p.version.checks); renderHistory(p); renderVariants(p); renderImages(p);
      preload(state.pos + 1);
      Object.keys(modes).forEach(function (m) { if (modes[m].shown) { modes[m].shown(api_ctx); } });
    }).catch(function (e) { status("Could not load " + row.label + ": " + e.message, "err"); });
  }
  function lastDecision(p) {
    var v = shownHistory(p);
    return v && v.decisions.length ? v.decisions[0] : null;
  }
  function shownHistory(p) {
    for (var i = 0; i < p.history.length; i++) { if (p.history[i].id === p.version.id) { return p.history[i]; } }
    return null;
  }
  function clearItem() {
    ["item-id", "item-source", "item-where", "verdict", "version-tag"].forEach(function (k) { $(k).textContent = ""; });
    $("panes").classList.add("hidden"); state.shown = null;
  }
  function renderHead(row, p) {
    var v = p ? p.version : null, h = p ? shownHistory(p) : null;
    $("item-id").textContent = row.label;
    $("item-source").textContent = row.sku ? "SKU " + row.sku + " · source " + (v ? v.source : row.source) : (v ? v.source : row.source);
    $("item-where").textContent = "batch " + (v ? v.home : row.home) + " · item " + (v ? v.item : row.item);
    var outcome = v ? v.outcome : row.outcome;
    var badge = $("verdict"); badge.className = "verdict " + outcome; badge.textContent = outcome;
    $("version-tag").textContent = h ? "version " + h.number + " of " + p.history.length + (h.newest ? "" : " (superseded)") +
      (h.origin === "fix" ? " · fixed by " + h.reviewer : "") : "";
  }
  function renderDecision(p) {
    var h = shownHistory(p), st = h ? h.state : "undecided", last = lastDecision(p);
    var now = $("decision-now"); now.className = "decision-now " + st;
    now.textContent = st === "approved" ? "✓ Approved" : st === "rejected" ? "✗ Rejected" : "Undecided";
    if (h && h.carried) { now.textContent += " (carried)"; }
    if (last && last.variant !== null && last.variant !== undefined && st !== "undecided") { now.textContent += " · variant " + (last.variant + 1); }
    var earlier = $("earlier"), lines = [];
    if (h && h.carried_note) { lines.push(h.carried_note.charAt(0).toUpperCase() + h.carried_note.slice(1)); }
    if (p.row.rejected_before && !(h && h.carried)) {
      var rej = null;
      p.history.forEach(function (v) { v.decisions.forEach(function (d) { if (!rej && d.decision === "rejected" && d !== last) { rej = d; } }); });
      if (rej) { lines.push("Rejected before on " + when(rej.decided_at).slice(0, 10) + " by " + rej.reviewer + ": " + (rej.note || "(no note)") + ". \"Approve all passed\" leaves it to you."); }
    }
    earlier.classList.toggle("hidden", !lines.length); earlier.textContent = lines.join("\n");
    if (document.activeElement !== $("note")) { $("note").value = last && !(h && h.carried) ? last.note || "" : ""; }
    status(last ? "by " + last.reviewer + " · " + when(last.decided_at) + " UTC" + (last.how === "approve-all" ? " · approve all passed" : last.how === "migrated" ? " · from the batch's decisions.json" : "") : "", "");
    var box = $("published"), live = p.live || [];
    box.classList.toggle("hidden", !live.length);
    box.textContent = live.length ? "Live: " + live.map(function (l) { return l.target + " as " + l.key + " (" + versionName(p, l.version) + ")"; }).join(", ") +
      ". A new decision takes effect at the next `product-scene publish`." : "";
    document.querySelector('[data-act="approve"]').disabled = !p.version.composite;
  }
  function versionName(p, id) {
    for (var i = 0; i < p.history.length; i++) { if (p.history[i].id === id) { return "version " + p.history[i].number; } }
    return id;
  }
  function renderReasons(reasons, label) {
    var list = $("reasons"); list.textContent = "";
    var v = state.shown ? state.shown.version : null;
    if (v && v.status !== "ok") { var li = el("li", "", v.error || "this item could not be processed"); list.appendChild(li); return; }
    if (!reasons.length) { list.appendChild(el("li", "ok", "All checks passed" + label + ".")); }
    reasons.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", "plain", r.sentence));
      li.appendChild(el("span", "tech mono", r.technical));
      list.appendChild(li);
    });
  }
  function renderChecks(checks) {
    var body = document.querySelector("#checks tbody"); body.textContent = "";
    var group = null;
    (checks || []).forEach(function (c) {
      if (c.group !== group) { group = c.group; var g = el("tr", "group"); var th = el("th", "", group); th.colSpan = 3; g.appendChild(th); body.appendChild(g); }
      var tr = el("tr", c.failing ? "bad" : (c.gated ? "" : "off"));
      tr.setAttribute("data-metric", c.metric);
      var name = el("th", "", c.label); name.title = c.technical; tr.appendChild(name);
      tr.appendChild(el("td", "v", c.value)); tr.appendChild(el("td", "t", c.gated ? c.limit : "not gated"));
      body.appendChild(tr);
    });
  }
  function renderHistory(p) {
    var ol = $("history"); ol.textContent = "";
    p.history.forEach(function (h) {
      var li = el("li", "version" + (h.id === p.version.id ? " shown" : ""));
      var b = el("button", "vhead");
      b.type = "button";
      b.appendChild(el("span", "vnum", "v" + h.number));
      b.appendChild(el("span", "dot " + h.outcome));
      b.appendChild(el("span", "vwhere", (h.origin === "fix" ? "fix by " + h.reviewer : h.home) + " · " + when(h.created_at)));
      b.appendChild(el("span", "mark " + h.state, h.state + (h.carried ? " (carried)" : "")));
      b.addEventListener("click", function () { showVersion(h.id); });
      li.appendChild(b);
      h.decisions.forEach(function (d) {
        li.appendChild(el("div", "dec " + d.decision, d.decision + " by " + d.reviewer + " · " + when(d.decided_at) + (d.note ? ": " + d.note : "")));
      });
      h.live.forEach(function (l) { li.appendChild(el("div", "live", "live in " + l.target + " as " + l.key)); });
      ol.appendChild(li);
    });
  }
  function showVersion(id) {
    var row = current();
    if (!row || !state.shown) { return; }
    show(id === state.shown.history[0].id ? undefined : id);
  }
  function stepVersion(delta) {
    var p = state.shown;
    if (!p) { return; }
    var h = p.history, i = 0;
    for (var k = 0; k < h.length; k++) { if (h[k].id === p.version.id) { i = k; } }
    var j = Math.max(0, Math.min(h.length - 1, i - delta));  // history is newest first
    if (j !== i) { showVersion(h[j].id); }
  }
  function compositeOf(v, variant) {
    if (variant === null || variant === undefined || !v.variants[variant]) { return v.composite; }
    return v.variants[variant];
  }
  function renderImages(p) {
    var v = p.version, has = !!v.composite;
    $("panes").classList.toggle("hidden", !has);
    $("noimage").classList.toggle("hidden", has);
    $("heat-why").textContent = has ? v.heat.why : "";
    document.querySelector('[data-act="heat"]').disabled = !(has && v.heat.available);
    if (!has) { $("noimage-text").textContent = v.error || "no composite"; $("viewer").setAttribute("data-ready", v.id); return; }
    state.frame = v.frame_hw ? [v.frame_hw[1], v.frame_hw[0]] : null;
    var comp = compositeOf(v, state.shownVariant);
    var orig = v.has_original ? fileUrl(v.home, v.item + "/original.png") : "";
    var edges = v.has_mask ? viewUrl(v.home, v.item, "edges.png") : "";
    var imgs = { "img-composite": fileUrl(v.home, comp.file, comp.sha256), "img-original": orig, "img-original-2": orig,
                 "img-edges": edges, "img-edges-2": edges,
                 "img-heat": v.heat.available ? viewUrl(v.home, v.item, "heat.png", state.shownVariant) : "" };
    Object.keys(imgs).forEach(function (k) {
      var img = $(k);
      if (!imgs[k]) { img.removeAttribute("src"); img.style.visibility = "hidden"; return; }
      img.style.visibility = "";
      if (img.getAttribute("src") !== imgs[k]) { img.setAttribute("src", imgs[k]); }
    });
    $("img-original").alt = "original of " + p.row.label;
    $("img-composite").alt = "composite of " + p.row.label;
    $("original-hint").textContent = v.has_original ? "in the composite's frame" :
      "not in this batch (written by product-scene runs since the review app; rerun to get it)";
    $("variant-label").textContent = v.variants.length > 1 ? "variant " + ((state.shownVariant === null ? (v.default_variant || 0) : state.shownVariant) + 1) + " of " + v.variants.length : "";
    var main = $("img-composite");
    var ready = function () {
      if (!state.shown || state.shown.version.id !== v.id) { return; }
      if (!state.frame) { state.frame = [main.naturalWidth, main.naturalHeight]; }
      sizeImages(); if (state.view.fitted) { fit(); } else { applyView(); }
      renderLogos(v);
      $("viewer").setAttribute("data-ready", v.id);
    };
    main.onerror = function () {
      status("The composite could not be loaded (changed since the page loaded? reload)", "err");
      $("viewer").setAttribute("data-ready", v.id);
    };
    if (main.complete && main.naturalWidth && main.getAttribute("src") === imgs["img-composite"]) { ready(); } else { main.onload = ready; }
  }
  function preload(i) {
    var next = state.rows[i];
    if (!next || next.outcome === "error") { return; }
    loadProduct(next.product).then(function (p) {
      var c = p.version.composite;
      if (c) { var im = new Image(); im.src = fileUrl(p.version.home, c.file, c.sha256); }
      if (p.version.has_original) { var io = new Image(); io.src = fileUrl(p.version.home, p.version.item + "/original.png"); }
    }).catch(function () {});
  }
  function renderVariants(p) {
    var v = p.version, box = $("variants"); box.textContent = "";
    $("variants-box").classList.toggle("hidden", v.variants.length < 2);
    if (v.variants.length < 2) { return; }
    var shown = state.shownVariant === null ? (v.default_variant || 0) : state.shownVariant;
    v.variants.forEach(function (variant, k) {
      var b = el("button", "variant" + (k === shown ? " shown" : ""));
      b.type = "button";
      var img = el("img"); img.setAttribute("src", fileUrl(v.home, variant.file, variant.sha256)); img.alt = "variant " + (k + 1);
      b.appendChild(img);
      b.appendChild(el("span", "", (k + 1) + " · "));
      b.appendChild(el("span", "v-" + variant.verdict, variant.verdict));
      b.addEventListener("click", function () { pickVariant(k); });
      box.appendChild(b);
    });
  }
  function pickVariant(k) {
    var p = state.shown;
    if (!p || k >= p.version.variants.length) { return; }
    state.shownVariant = k;
    renderImages(p); renderVariants(p);
    var variant = p.version.variants[k];
    renderReasons(variant.reasons, " (variant " + (k + 1) + ")");
    renderChecks(variant.checks);
    status("Showing variant " + (k + 1) + " (" + variant.verdict + "). Approve to choose it.", "");
  }
  function renderLogos(v) {
    var box = $("logos"); box.textContent = "";
    $("logos-box").classList.toggle("hidden", !v.logo_boxes.length);
    v.logo_boxes.forEach(function (b) {
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
  function setPane(pane) {
    state.pane = pane;
    $("panes").className = pane;
    document.querySelector('[data-act="slider"]').classList.toggle("on", pane === "slider");
    requestAnimationFrame(function () { if (state.view.fitted) { fit(); } else { applyView(); } });
  }
  function toggle(name) {
    if (name === "heat" && document.querySelector('[data-act="heat"]').disabled) { status($("heat-why").textContent, ""); return; }
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
      if (state.pane === "slider" && e.shiftKey === false && Math.abs(e.clientX - r.left - r.width * state.slider) < 12) {
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
  function viewerKeys(e) {  // shared by every mode
    var k = e.key, step = 60;
    if (e.shiftKey && k.indexOf("Arrow") === 0) {
      pan(k === "ArrowLeft" ? step : k === "ArrowRight" ? -step : 0, k === "ArrowUp" ? step : k === "ArrowDown" ? -step : 0);
    } else if (k === "j" || k === "ArrowDown" || k === "ArrowRight") { go(state.pos + 1); }
    else if (k === "k" || k === "ArrowUp" || k === "ArrowLeft") { go(state.pos - 1); }
    else if (k === "s") { setPane(state.pane === "sbs" ? "slider" : "sbs"); }
    else if (k === "[") { state.slider = Math.max(0, state.slider - 0.05); applySlider(); }
    else if (k === "]") { state.slider = Math.min(1, state.slider + 0.05); applySlider(); }
    else if (k === "+" || k === "=") { zoomAt(1.5); }
    else if (k === "-" || k === "_") { zoomAt(1 / 1.5); }
    else if (k === "0") { fit(); }
    else if (k === "e") { toggle("edges"); }
    else if (k === "h") { toggle("heat"); }
    else if (k === ",") { stepVersion(-1); }
    else if (k === ".") { stepVersion(1); }
    else if (k === "v") { cycle("f-outcome", "outcome"); }
    else if (k === "d") { cycle("f-decision", "decision"); }
    else if (k === "b") { cycleBatch(); }
    else if (k === "x") { setBefore(!state.filter.rejected_before); }
    else if (k === "/") { $("search").focus(); }
    else if (/^[1-9]$/.test(k)) { pickVariant(parseInt(k, 10) - 1); }
    else { return false; }
    return true;
  }

  // ------------------------------------------------------------------ filters
  function setSeg(group, value) {
    Array.prototype.forEach.call($(group).children, function (b) { b.classList.toggle("on", b.getAttribute("data-v") === value); });
  }
  function setFilter(key, value) {
    state.filter[key] = value;
    var cur = current(); loadQueue(cur && cur.product).catch(function (e) { status(e.message, "err"); });
  }
  function cycle(group, key) {
    var values = Array.prototype.map.call($(group).children, function (b) { return b.getAttribute("data-v"); });
    var next = values[(values.indexOf(state.filter[key]) + 1) % values.length];
    setSeg(group, next); setFilter(key, next);
  }
  function cycleBatch() {
    var sel = $("f-batch");
    if (sel.disabled || !sel.options.length) { return; }
    sel.selectedIndex = (sel.selectedIndex + 1) % sel.options.length;
    setFilter("batch", sel.value);
  }
  function setBefore(on) {
    $("f-before").classList.toggle("on", on); $("f-before").setAttribute("aria-pressed", on ? "true" : "false");
    setFilter("rejected_before", on);
  }

  // ------------------------------------------------------------------ the review mode
  function decide(decision, opts) {
    var row = current(), p = state.shown;
    if (!row || !p || p.product !== row.product) { return Promise.resolve(); }
    opts = opts || {};
    var v = p.version, variant = v.variants.length > 1 ? state.shownVariant : null;
    var comp = v.composite ? compositeOf(v, variant) : null;
    var note = opts.note !== undefined ? opts.note : $("note").value;
    state.saving += 1;
    status("Saving…", "");
    return api("/api/decisions", { product: row.product, version: v.id, decision: decision, note: note,
                                   variant: variant, composite_sha256: comp ? comp.sha256 : null }).then(function (res) {
      state.saving -= 1; state.savedCount += 1;
      state.revision = Math.max(state.revision, res.revision);
      var old = updateRow(res.row);
      countDelta(old, res.row);
      document.body.setAttribute("data-saved", String(state.savedCount));
      if (opts.next) { go(state.pos + 1); }
      else if (current() && current().product === row.product) {
        show(v.id === p.history[0].id ? undefined : v.id);
        status("Saved · " + res.decision.decision + " by " + res.decision.reviewer, "ok");
      }
    }).catch(function (e) {
      state.saving = Math.max(0, state.saving - 1);
      status("Not saved: " + e.message, "err");
    });
  }
  function approvePassedDialog() {
    var n = state.counts ? state.counts.approvable : 0;
    $("confirm-text").textContent = n ? "Approve " + n + " passed product" + (n === 1 ? "" : "s") + " that have no decision yet?" : "No passed product is waiting for a decision.";
    var yes = $("confirm-yes");
    yes.textContent = "Approve " + n + " product" + (n === 1 ? "" : "s") + " (Enter)";
    yes.disabled = !n; yes.setAttribute("data-count", String(n));
    $("confirm").classList.remove("hidden");
    (n ? yes : $("confirm-no")).focus();
  }
  function closeDialog() { $("confirm").classList.add("hidden"); }
  function approvePassed() {
    var n = parseInt($("confirm-yes").getAttribute("data-count"), 10);
    closeDialog();
    status("Approving " + n + " products…", "");
    api("/api/approve-passed", { count: n, batch: state.filter.batch || null }).then(function (res) {
      res.rows.forEach(function (r) { updateRow(r); });
      return poll(true).then(function () {
        state.savedCount += 1; document.body.setAttribute("data-saved", String(state.savedCount));
        var cur = current(); if (cur) { show(); }
        status("Approved " + res.approved.length + " passed products" + (res.skipped.length ? " (" + res.skipped.length + " decided by someone else meanwhile)" : ""), "ok");
      });
    }).catch(function (e) { status("Not saved: " + e.message, "err"); });
  }
  function reviewKeys(e) {
    var k = e.key;
    if (k === "a") { decide("approved", { next: true }); }
    else if (k === "r") { decide("rejected"); $("note").focus(); }
    else if (k === "u") { decide("undecided"); }
    else if (k === "n") { $("note").focus(); }
    else if (k === "P") { approvePassedDialog(); }
    else { return false; }
    return true;
  }

  // ------------------------------------------------------------------ keyboard, modes
  function onKey(e) {
    if (!$("confirm").classList.contains("hidden")) {
      if (e.key === "Escape") { closeDialog(); e.preventDefault(); }
      else if (e.key === "Enter" && document.activeElement === $("confirm-yes")) { approvePassed(); e.preventDefault(); }
      return;
    }
    var t = e.target;
    if (t === $("note")) {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault(); var row = current();
        state.enterSaving = true; t.blur(); state.enterSaving = false;
        decide(row ? row.state : "undecided", { note: t.value, next: true });
      } else if (e.key === "Escape") { e.preventDefault(); t.blur(); }
      return;
    }
    if (t === $("search")) {
      if (e.key === "Escape" || e.key === "Enter") { e.preventDefault(); t.blur(); }
      return;
    }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var mode = modes[activeMode];
    if (mode && mode.onKey && mode.onKey(e, api_ctx)) { e.preventDefault(); return; }
    for (var name in modes) {
      if (name !== activeMode && modes[name].key === e.key) { e.preventDefault(); setMode(name); return; }
    }
    if (viewerKeys(e)) { e.preventDefault(); }
  }
  function registerMode(name, mode) { modes[name] = mode; }
  function setMode(name) {
    if (!modes[name] || name === activeMode) { return; }
    if (modes[activeMode] && modes[activeMode].leave) { modes[activeMode].leave(api_ctx); }
    activeMode = name; document.body.setAttribute("data-mode", name);
    if (modes[name].enter) { modes[name].enter(api_ctx); }
  }
  var api_ctx = {
    api: api, fileUrl: fileUrl, status: status, registerMode: registerMode, setMode: setMode,
    current: function () { return state.shown; }, row: current, reload: function () { var c = current(); return loadQueue(c && c.product); },
    forget: forget, el: el, mode: function () { return activeMode; },
    renderWhy: function (reasons, checks, label) { renderReasons(reasons, label || ""); renderChecks(checks); },
    reloadProduct: function () { var c = current(); if (c) { forget(c.product); show(); } }
  };
  window.ProductSceneReview = api_ctx;
  registerMode("review", { label: "Review", onKey: reviewKeys });

  // ------------------------------------------------------------------ start
  function wire() {
    document.addEventListener("keydown", onKey);
    ["f-outcome", "f-decision"].forEach(function (g) {
      Array.prototype.forEach.call($(g).children, function (b) {
        b.addEventListener("click", function () {
          var key = g === "f-outcome" ? "outcome" : "decision";
          setSeg(g, b.getAttribute("data-v")); setFilter(key, b.getAttribute("data-v")); b.blur();
        });
      });
    });
    $("f-batch").addEventListener("change", function () { setFilter("batch", $("f-batch").value); $("f-batch").blur(); });
    $("f-before").addEventListener("click", function () { setBefore(!state.filter.rejected_before); $("f-before").blur(); });
    $("note").addEventListener("change", function () {  // leaving the field (Esc, click) keeps the note
      var row = current(), last = state.shown ? lastDecision(state.shown) : null;
      if (row && (last ? last.note || "" : "") !== $("note").value && !state.enterSaving) {
        decide(row.state, { note: $("note").value });
      }
    });
    var searchTimer = null;
    $("search").addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { setFilter("q", $("search").value.trim()); }, 200);
    });
    document.querySelectorAll("[data-act]").forEach(function (b) {
      b.addEventListener("click", function () {
        var a = b.getAttribute("data-act");
        if (a === "approve") { decide("approved", { next: true }); }
        else if (a === "reject") { decide("rejected"); $("note").focus(); }
        else if (a === "undecide") { decide("undecided"); }
        else if (a === "slider") { setPane(state.pane === "sbs" ? "slider" : "sbs"); }
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
  // Other tabs and reviewers: pick up their decisions every few seconds (never while we save).
  function poll(force) {
    if (!force && (document.hidden || state.saving)) { return Promise.resolve(); }
    return api("/api/changes?" + query({ since: state.revision })).then(function (res) {
      if ((state.saving && !force) || res.revision < state.revision) { return; }  // older than our own save
      state.revision = res.revision;
      var cur = current();
      res.rows.forEach(function (r) {
        var old = updateRow(r);
        if (old && cur && cur.product === r.product && document.activeElement !== $("note")) { show(); }
      });
      setCounts(res.counts);
    }).catch(function () {});
  }
  function start() {
    wire();
    setMode("review");
    loadQueue(null).then(function () {
      document.body.setAttribute("data-loaded", "1");
      setInterval(poll, 4000);
    }).catch(function (e) { status("Could not load the queue: " + e.message, "err"); });
  }
  start();
})();
