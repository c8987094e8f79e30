// product-scene review page: the "fix cut-out" mode (key F), over /api/fix/* (review_server/fix_routes.py).
// The photo is shown in its own pixels with the mask's outline; a click or a brush stroke on it is
// "keep" (this is product) or "remove" (this is backdrop); the server refines the mask, re-renders
// the item with the batch's config and seed, and answers the new outline, composite and verdict.
// Keys: K keep, X remove (the tool for a left click; a right click uses the other), Z undo,
// C back to the segmenter's mask, Enter save the fix as a new version, F or Esc leave.
// Every string from the data goes into the page through textContent, never as HTML.
(function () {
  "use strict";
  var R = window.ProductSceneReview;
  if (!R) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var el = R.el;
  var BRUSH_CSS_PX = 7;       // brush radius on screen (converted to photo pixels when sent)
  var MIN_STROKE_CSS_PX = 6;  // a drag shorter than this is a click
  var fix = null;             // the open fix's state from the server
  var tool = "remove", busy = null, stroke = null, clickedAt = 0, queue = Promise.resolve();

  // ------------------------------------------------------------------ DOM
  function build() {
    var root = el("div", "hidden"); root.id = "fix";
    root.setAttribute("aria-label", "Fix the cut-out");
    var head = el("div"); head.id = "fix-head";
    head.appendChild(el("span", "fix-title", "Fix cut-out"));
    [["keep", "Keep (product)", "K"], ["remove", "Remove (backdrop)", "X"]].forEach(function (t) {
      var b = el("button", "btn tool " + t[0]); b.type = "button"; b.setAttribute("data-tool", t[0]);
      b.appendChild(document.createTextNode(t[1] + " ")); b.appendChild(el("kbd", "", t[2]));
      b.addEventListener("click", function () { setTool(t[0]); b.blur(); });
      head.appendChild(b);
    });
    [["undo", "Undo", "Z"], ["reset", "Segmenter's mask", "C"], ["save", "Save fix", "Enter"], ["leave", "Leave", "F"]].forEach(function (a) {
      var b = el("button", "btn fix-act " + a[0]); b.type = "button"; b.setAttribute("data-fix", a[0]);
      b.appendChild(document.createTextNode(a[1] + " ")); b.appendChild(el("kbd", "", a[2]));
      b.addEventListener("click", function () { act(a[0]); b.blur(); });
      head.appendChild(b);
    });
    var st = el("span", "status"); st.id = "fix-status"; st.setAttribute("aria-live", "polite"); head.appendChild(st);
    root.appendChild(head);
    var panes = el("div"); panes.id = "fix-panes";
    var a = el("div", "pane");
    var la = el("div", "label"); la.appendChild(el("span", "", "Photo"));
    la.appendChild(el("span", "hint", "click or brush · right click: the other tool"));
    a.appendChild(la);
    var sa = el("div", "fix-stage"); sa.id = "fix-stage-photo";
    var box = el("div", "fix-box"); box.id = "fix-box";
    var photo = el("img"); photo.id = "fix-photo"; photo.alt = "photo";
    var outline = el("img", "fix-over"); outline.id = "fix-outline"; outline.alt = "";
    var marks = el("canvas", "fix-over"); marks.id = "fix-marks";
    box.appendChild(photo); box.appendChild(outline); box.appendChild(marks); sa.appendChild(box); a.appendChild(sa);
    var b = el("div", "pane");
    var lb = el("div", "label"); lb.appendChild(el("span", "", "Re-rendered"));
    var verdict = el("span", "verdict"); verdict.id = "fix-verdict"; lb.appendChild(verdict);
    var step = el("span", "hint"); step.id = "fix-step"; lb.appendChild(step);
    b.appendChild(lb);
    var sb = el("div", "fix-stage"); sb.id = "fix-stage-composite";
    var cbox = el("div", "fix-box"); cbox.id = "fix-cbox";
    var comp = el("img"); comp.id = "fix-composite"; comp.alt = "re-rendered composite";
    cbox.appendChild(comp); sb.appendChild(cbox); b.appendChild(sb);
    panes.appendChild(a); panes.appendChild(b); root.appendChild(panes);
    var why = el("div"); why.id = "fix-why";
    var ul = el("ul"); ul.id = "fix-reasons"; why.appendChild(ul);
    var notes = el("div", "hint"); notes.id = "fix-notes"; why.appendChild(notes);
    root.appendChild(why);
    $("viewer").appendChild(root);

    var enter = el("button", "btn fix-enter"); enter.type = "button"; enter.id = "fix-enter";
    enter.appendChild(document.createTextNode("Fix the cut-out ")); enter.appendChild(el("kbd", "", "F"));
    enter.addEventListener("click", function () { enter.blur(); R.setMode("fix"); });
    $("decision-box").insertBefore(enter, $("decision-box").querySelector(".note-label"));
    var why2 = el("div", "hint"); why2.id = "fix-enter-why"; $("decision-box").insertBefore(why2, enter.nextSibling);

    box.addEventListener("contextmenu", function (e) { e.preventDefault(); });
    box.addEventListener("mousedown", strokeStart);
    window.addEventListener("mousemove", strokeMove);
    window.addEventListener("mouseup", strokeEnd);
    [photo, comp].forEach(function (img) { img.addEventListener("load", layout); });
    window.addEventListener("resize", layout);
  }

  // ------------------------------------------------------------------ layout and drawing
  function fitBox(box, stage, w, h) {
    var r = stage.getBoundingClientRect();
    var s = Math.min(r.width / w, r.height / h);
    if (!isFinite(s) || s <= 0) { return; }
    box.style.width = Math.floor(w * s) + "px"; box.style.height = Math.floor(h * s) + "px";
  }
  function layout() {
    if (!fix) { return; }
    fitBox($("fix-box"), $("fix-stage-photo"), fix.photo.width, fix.photo.height);
    fitBox($("fix-cbox"), $("fix-stage-composite"), fix.composite.width, fix.composite.height);
    drawMarks();
  }
  function toPhoto(e) {  // client coordinates -> photo pixels (clamped to the photo)
    var r = $("fix-box").getBoundingClientRect();
    var x = (e.clientX - r.left) * fix.photo.width / r.width, y = (e.clientY - r.top) * fix.photo.height / r.height;
    return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  }
  function drawMarks() {
    var c = $("fix-marks"), box = $("fix-box").getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    c.width = Math.max(1, Math.round(box.width * dpr)); c.height = Math.max(1, Math.round(box.height * dpr));
    c.style.width = box.width + "px"; c.style.height = box.height + "px";
    var ctx = c.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!fix) { return; }
    var k = box.width / fix.photo.width;
    var marks = fix.clicks.slice(); if (stroke) { marks.push({ kind: stroke.kind, points: stroke.points, radius_px: stroke.radius }); }
    marks.forEach(function (m) {
      var colour = m.kind === "keep" ? "rgba(63,185,80,0.85)" : "rgba(248,81,73,0.85)";
      ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineCap = "round"; ctx.lineJoin = "round";
      var r = Math.max(4, (m.radius_px || 3) * k);
      if (m.points.length === 1) {
        ctx.beginPath(); ctx.arc(m.points[0][0] * k, m.points[0][1] * k, r, 0, 2 * Math.PI); ctx.fill();
        ctx.lineWidth = 1.5; ctx.strokeStyle = "#000"; ctx.stroke();
      } else {
        ctx.lineWidth = 2 * r; ctx.beginPath();
        m.points.forEach(function (p, i) { if (i) { ctx.lineTo(p[0] * k, p[1] * k); } else { ctx.moveTo(p[0] * k, p[1] * k); } });
        ctx.stroke();
      }
    });
  }
  function status(text, cls) { var s = $("fix-status"); s.textContent = text; s.className = "status " + (cls || ""); }

  // ------------------------------------------------------------------ state from the server
  function show(res, startedAt) {
    fix = res;
    var base = "/fix/" + encodeURIComponent(res.fix) + "/";
    var photo = $("fix-photo"), outline = $("fix-outline"), comp = $("fix-composite");
    var want = [[photo, base + res.photo.name], [outline, base + res.outline], [comp, base + res.composite.name]];
    var pending = 0;
    var done = function () {
      if (--pending > 0 || fix !== res) { return; }
      layout();
      document.body.setAttribute("data-fix-step", String(res.step));
      document.body.setAttribute("data-fix-composite", res.composite.sha256);
      if (startedAt) { document.body.setAttribute("data-fix-ms", String(Math.round(performance.now() - startedAt))); }
    };
    want.forEach(function (w) {
      if (w[0].getAttribute("src") === w[1] && w[0].complete) { return; }
      pending += 1;
      w[0].addEventListener("load", done, { once: true });
      w[0].addEventListener("error", done, { once: true });
      w[0].setAttribute("src", w[1]);
    });
    if (!pending) { pending = 1; done(); }
    var v = $("fix-verdict"); v.className = "verdict " + res.verdict; v.textContent = res.verdict;
    $("fix-step").textContent = res.step ? res.step + " click" + (res.step === 1 ? "" : "s") +
      " · " + Math.round(res.ms.refine) + " + " + Math.round(res.ms.render) + " ms" : "the segmenter's cut-out";
    $("fix-step").title = "refine " + Math.round(res.ms.refine) + " ms, re-render (scene, restore, score, gate) " +
      Math.round(res.ms.render) + " ms";
    var ul = $("fix-reasons"); ul.textContent = "";
    if (!res.reasons.length) { ul.appendChild(el("li", "ok", "All checks passed: save the fix, then approve it.")); }
    res.reasons.forEach(function (r) {
      var li = el("li"); li.appendChild(el("span", "plain", r.sentence)); li.appendChild(el("span", "tech mono", r.technical));
      ul.appendChild(li);
    });
    $("fix-notes").textContent = res.notes.join(" ");
    R.renderWhy(res.reasons, res.checks, " (the fix, not saved yet)");  // the panel's checks follow the fix
    document.querySelector('[data-fix="save"]').disabled = !res.step;
    document.querySelector('[data-fix="undo"]').disabled = !res.step;
    drawMarks();
  }
  function fail(e) {
    status(e.message, "err");
    if (e.status === 404 && fix) { fix = null; R.setMode("review"); R.status("The fix was closed: " + e.message, "err"); }
  }
  function send(action, body, startedAt) {  // one request at a time, in order
    queue = queue.then(function () {
      if (!fix) { return null; }
      body.fix = fix.fix;
      busy = action; status(action === "click" ? "Refining and re-rendering…" : "Working…", "");
      return R.api("/api/fix/" + action, body).then(function (res) {
        busy = null; status("", "");
        if (fix && res.fix === fix.fix) { show(res, startedAt); }
        return res;
      }).catch(function (e) { busy = null; fail(e); });
    });
    return queue;
  }

  // ------------------------------------------------------------------ strokes
  function strokeStart(e) {
    if (!fix || (e.button !== 0 && e.button !== 2)) { return; }
    e.preventDefault();
    var other = tool === "keep" ? "remove" : "keep", r = $("fix-box").getBoundingClientRect();
    stroke = { kind: e.button === 2 ? other : tool, points: [toPhoto(e)], screen: [e.clientX, e.clientY],
               radius: BRUSH_CSS_PX * fix.photo.width / r.width, length: 0 };
    drawMarks();
  }
  function strokeMove(e) {
    if (!stroke) { return; }
    var dx = e.clientX - stroke.screen[0], dy = e.clientY - stroke.screen[1], d = Math.sqrt(dx * dx + dy * dy);
    if (d < 3) { return; }
    stroke.length += d; stroke.screen = [e.clientX, e.clientY];
    if (stroke.points.length < 1500) { stroke.points.push(toPhoto(e)); }
    drawMarks();
  }
  function strokeEnd() {
    if (!stroke) { return; }
    var s = stroke; stroke = null;
    clickedAt = performance.now();
    var inside = function (p) { return p[0] >= 0 && p[1] >= 0 && p[0] < fix.photo.width && p[1] < fix.photo.height; };
    var body = { kind: s.kind, points: s.length >= MIN_STROKE_CSS_PX ? s.points.filter(inside) : [s.points[0]] };
    if (!body.points.length) { drawMarks(); return; }
    if (s.length >= MIN_STROKE_CSS_PX) { body.radius_px = Math.max(1, Math.min(500, Math.round(s.radius * 100) / 100)); }
    send("click", body, clickedAt);
  }

  // ------------------------------------------------------------------ actions
  function setTool(t) {
    tool = t;
    Array.prototype.forEach.call(document.querySelectorAll("#fix-head .tool"), function (b) {
      b.classList.toggle("on", b.getAttribute("data-tool") === t);
    });
    document.body.setAttribute("data-fix-tool", t);
  }
  function act(a) {
    if (!fix) { return; }
    if (a === "leave") { R.setMode("review"); }
    else if (a === "undo" || a === "reset") { send(a, {}, performance.now()); }
    else if (a === "save") { save(); }
  }
  function save() {
    if (!fix || !fix.step) { status("Nothing to save yet: click on what is wrong first.", "err"); return; }
    var sha = fix.composite.sha256, pid = fix.product;
    queue = queue.then(function () {
      status("Saving the fix…", "");
      return R.api("/api/fix/save", { fix: fix.fix, composite_sha256: sha }).then(function (res) {
        fix = null; R.forget(pid); R.setMode("review");
        document.body.setAttribute("data-fix-saved", res.version);
        return R.reload().then(function () {
          R.status("Fix saved as a new version, undecided: approve (A) or reject (R) it like any other.", "ok");
        });
      }).catch(fail);
    });
  }
  function onKey(e) {
    var k = e.key;
    if (k === "f" || k === "Escape") { act("leave"); }
    else if (k === "k") { setTool("keep"); }
    else if (k === "x") { setTool("remove"); }
    else if (k === "z") { act("undo"); }
    else if (k === "c") { act("reset"); }
    else if (k === "Enter") { act("save"); }
    else if (k.length === 1 || k.indexOf("Arrow") === 0) { status("Leave fix mode (F) first.", ""); }
    else { return false; }
    return true;  // every other key is the fix mode's while it is open: no accidental decision or jump
  }

  // ------------------------------------------------------------------ the mode
  function enter(ctx) {
    var p = ctx.current();
    if (!p || !p.fix || !p.fix.available) {
      ctx.setMode("review");
      ctx.status(p && p.fix ? p.fix.why : "Nothing to fix here.", "err");
      return;
    }
    document.body.removeAttribute("data-fix-step");
    $("fix").classList.remove("hidden");
    fix = { fix: null, product: p.product, clicks: [], photo: { width: 1, height: 1 }, composite: { width: 1, height: 1 } };
    setTool(tool);
    ["fix-photo", "fix-outline", "fix-composite"].forEach(function (id) { $(id).removeAttribute("src"); });
    $("fix-reasons").textContent = ""; $("fix-notes").textContent = ""; $("fix-verdict").textContent = "";
    $("fix-step").textContent = "";
    status("Preparing: segmenting the photo and re-rendering it…", "");
    var started = performance.now(), want = p.product;
    queue = queue.then(function () {
      return R.api("/api/fix/start", { product: p.product, version: p.version.id }).then(function (res) {
        if (!fix || fix.product !== want) { R.api("/api/fix/close", { fix: res.fix }).catch(function () {}); return; }
        status("Click on what is wrong: " + (tool === "keep" ? "keep" : "remove") + " (K / X switch).", "");
        show(res, started);
      }).catch(function (e) { fix = null; R.setMode("review"); R.status("Cannot fix: " + e.message, "err"); });
    });
  }
  function leave() {
    if (fix && fix.fix) {
      var n = fix.step, id = fix.fix;
      R.api("/api/fix/close", { fix: id }).catch(function () {});
      if (n) { R.status("Left fix mode; " + n + " unsaved click" + (n === 1 ? "" : "s") + " discarded.", ""); }
    }
    fix = null; stroke = null;
    $("fix").classList.add("hidden");
    var p = R.current();
    if (p) { R.renderWhy(p.version.reasons, p.version.checks, ""); }  // the version's own again
    document.body.removeAttribute("data-fix-step");
  }
  function shown(ctx) {  // every product the page shows: offer the fix or say why not; leave on another product
    var p = ctx.current(), ok = !!(p && p.fix && p.fix.available);
    $("fix-enter").disabled = !ok;
    $("fix-enter-why").textContent = p && p.fix && !ok ? p.fix.why : "";
    if (ctx.mode() !== "fix" || !fix || !p) { return; }
    if (p.product !== fix.product) { ctx.setMode("review"); }
    else if (fix.reasons) { R.renderWhy(fix.reasons, fix.checks, " (the fix, not saved yet)"); }  // a poll redrew the panel
  }
  build();
  R.registerMode("fix", { label: "Fix cut-out", key: "f", enter: enter, leave: leave, onKey: onKey, shown: shown });
})();
