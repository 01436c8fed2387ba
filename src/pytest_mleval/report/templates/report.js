(function () {
  "use strict";
  // Every value from the run is written with textContent / createTextNode: never as markup.
  var D = JSON.parse(document.getElementById("mleval-data").textContent);
  var cases = D.cases;
  var PAGE = 200;
  var state = { q: "", suite: "", status: "", tag: "", sort: "", desc: false, list: [], shown: 0 };
  var body = document.getElementById("case-rows");
  function ready() {
    window.__mlevalReady = performance.now();
    document.documentElement.setAttribute("data-ready", "1");
  }
  if (!body) { ready(); return; }
  var tagIdx = {};
  D.tagIndex.forEach(function (t, i) { tagIdx[t] = i; });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, digits) {
    if (v === undefined || v === null) return "–";
    var d = digits === undefined ? 3 : digits;
    var a = Math.abs(v);
    if (v !== 0 && a < Math.pow(10, -d)) return v.toPrecision(Math.max(d, 2));
    if (a >= 100) return v.toFixed(Math.min(d, 1));
    return v.toFixed(d);
  }
  function short(s, n) {
    if (s === undefined || s === null) return "";
    s = String(s);
    return s.length > n ? s.slice(0, n) + "…" : s;
  }
  var haystacks = null;
  function haystack(i) {
    if (!haystacks) haystacks = new Array(cases.length);
    var h = haystacks[i];
    if (h === undefined) {
      var c = cases[i];
      h = [c.id, c.in, c.out, c.exp, c.err, D.suites[c.s], toolNames(c)].join("\u0000").toLowerCase();
      haystacks[i] = h;
    }
    return h;
  }
  function scoreOf(c, m) {
    if (!c.sc) return null;
    for (var k = 0; k < c.sc.length; k++) if (c.sc[k].m === m) return c.sc[k].v === undefined ? null : c.sc[k].v;
    return null;
  }
  function sortKey(c, key) {
    if (key === "status") return c.st;
    if (key === "suite") return D.suites[c.s] || "";
    if (key === "id") return c.id;
    if (key === "lat") return c.lat === undefined ? null : c.lat;
    if (key === "cost") return c.cost === undefined ? null : c.cost;
    if (key === "tok") return c.tok ? c.tok[2] : null;
    if (key.slice(0, 2) === "m:") return scoreOf(c, +key.slice(2));
    return null;
  }

  function applyFilters() {
    var q = state.q.trim().toLowerCase();
    var suite = state.suite === "" ? -1 : +state.suite;
    var status = state.status === "" ? -1 : +state.status;
    var tag = state.tag === "" ? -1 : (state.tag in tagIdx ? tagIdx[state.tag] : -2);
    var out = [];
    for (var i = 0; i < cases.length; i++) {
      var c = cases[i];
      if (suite >= 0 && c.s !== suite) continue;
      if (status >= 0 && c.st !== status) continue;
      if (tag !== -1 && !(c.tg && c.tg.indexOf(tag) >= 0)) continue;
      if (q && haystack(i).indexOf(q) < 0) continue;
      out.push(i);
    }
    if (state.sort) {
      var key = state.sort, sign = state.desc ? -1 : 1;
      out.sort(function (a, b) {
        var x = sortKey(cases[a], key), y = sortKey(cases[b], key);
        // Missing values sort last in either direction.
        if (x === null && y === null) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        if (x < y) return -sign;
        if (x > y) return sign;
        return a - b;
      });
    } else if (state.desc) {
      out.reverse();
    }
    state.list = out;
    state.shown = 0;
    while (body.firstChild) body.removeChild(body.firstChild);
    renderMore();
    document.querySelectorAll("th.sortable").forEach(function (th) {
      var on = th.getAttribute("data-sort") === state.sort;
      th.classList.toggle("sorted", on);
      th.classList.toggle("desc", on && state.desc);
    });
  }

  function scoreChips(c, tag) {
    var td = el(tag || "td", "chips");
    (c.sc || []).forEach(function (s) {
      var cls = s.p === true ? "ok" : s.p === false ? "no" : "info";
      var text = D.metrics[s.m] + " " + (s.v === undefined ? (s.sk ? "skip" : "err") : fmt(s.v, 2));
      var chip = el("span", "sc " + cls, text);
      chip.title = D.metrics[s.m] + ": " + (s.v === undefined ? (s.er || s.sk || "no score") : s.v);
      td.appendChild(chip);
    });
    return td;
  }

  function row(i) {
    var c = cases[i];
    var tr = el("tr", "case-row");
    tr.setAttribute("data-i", String(i));
    tr.tabIndex = 0;
    var st = D.statuses[c.st];
    var tdS = el("td");
    tdS.appendChild(el("span", "st " + st, st));
    tr.appendChild(tdS);
    tr.appendChild(el("td", null, D.suites[c.s]));
    var tdId = el("td", "mono", c.id + (c.r ? " [r" + c.r + "]" : ""));
    tdId.title = c.id;
    tr.appendChild(tdId);
    var tdIn = el("td", null, short(c.in, 160));
    tdIn.title = short(c.in, 600);
    tr.appendChild(tdIn);
    var tdOut = el("td", c.err ? "st-errored" : null, c.err ? short(c.err, 160) : short(c.out, 160));
    tdOut.title = short(c.err || c.out, 600);
    tr.appendChild(tdOut);
    tr.appendChild(scoreChips(c));
    tr.appendChild(el("td", "num", c.lat === undefined ? "–" : fmt(c.lat, 0) + " ms"));
    tr.appendChild(el("td", "num", c.cost === undefined ? "–" : "$" + fmt(c.cost, 4)));
    return tr;
  }

  function renderMore() {
    var frag = document.createDocumentFragment();
    var end = Math.min(state.list.length, state.shown + PAGE);
    for (var k = state.shown; k < end; k++) frag.appendChild(row(state.list[k]));
    body.appendChild(frag);
    state.shown = end;
    var total = state.list.length;
    document.getElementById("count").textContent =
      "showing " + state.shown.toLocaleString() + " of " + total.toLocaleString() + " matching · " +
      cases.length.toLocaleString() + " results in all";
    document.getElementById("more-wrap").style.display = state.shown < total ? "" : "none";
  }

  // ---------------------------------------------------------------- case details

  function words(s) { return String(s).split(/\s+/).filter(function (w) { return w.length > 0; }); }

  // Word-level LCS diff of expected (a) against output (b): [op, word] with op in "=", "-", "+".
  function wordDiff(a, b) {
    var A = words(a), B = words(b), ops = [];
    var pre = 0;
    while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
    var suf = 0;
    while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
    var a2 = A.slice(pre, A.length - suf), b2 = B.slice(pre, B.length - suf);
    var k;
    for (k = 0; k < pre; k++) ops.push(["=", A[k]]);
    var n = a2.length, m = b2.length;
    if (n * m > 4e6) {
      a2.forEach(function (w) { ops.push(["-", w]); });
      b2.forEach(function (w) { ops.push(["+", w]); });
    } else {
      var L = new Uint16Array((n + 1) * (m + 1)), W = m + 1, i, j;
      for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--)
        L[i * W + j] = a2[i] === b2[j] ? L[(i + 1) * W + j + 1] + 1 : Math.max(L[(i + 1) * W + j], L[i * W + j + 1]);
      i = 0; j = 0;
      while (i < n && j < m) {
        if (a2[i] === b2[j]) { ops.push(["=", a2[i]]); i++; j++; }
        else if (L[(i + 1) * W + j] >= L[i * W + j + 1]) { ops.push(["-", a2[i]]); i++; }
        else { ops.push(["+", b2[j]]); j++; }
      }
      for (; i < n; i++) ops.push(["-", a2[i]]);
      for (; j < m; j++) ops.push(["+", b2[j]]);
    }
    for (k = A.length - suf; k < A.length; k++) ops.push(["=", A[k]]);
    return ops;
  }
  window.__mlevalWordDiff = wordDiff;

  function pretty(v) {
    return typeof v === "string" ? v : JSON.stringify(v, null, 2);
  }
  function block(title, content, cls) {
    var d = el("div", "block" + (cls ? " " + cls : ""));
    d.appendChild(el("h4", null, title));
    if (typeof content === "string") d.appendChild(el("pre", null, content));
    else d.appendChild(content);
    return d;
  }
  function diffBlock(exp, out) {
    var pre = el("pre", "diff");
    wordDiff(exp, out).forEach(function (op, idx) {
      if (idx) pre.appendChild(document.createTextNode(" "));
      var tag = op[0] === "=" ? "span" : op[0] === "-" ? "del" : "ins";
      pre.appendChild(el(tag, null, op[1]));
    });
    return block("Diff (expected → output)", pre, "full");
  }
  function scoresBlock(c) {
    var t = el("table", "scores");
    var head = el("tr");
    ["metric", "score", "bound", "passed"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    head.appendChild(el("th", "expl", "explanation / judge reasoning"));
    if (D.hasBaseline) head.insertBefore(el("th", null, "baseline"), head.children[2]);
    t.appendChild(head);
    c.sc.forEach(function (s) {
      var tr = el("tr");
      tr.appendChild(el("td", "mono", D.metrics[s.m]));
      tr.appendChild(el("td", "num", s.v === undefined ? "–" : fmt(s.v, 4)));
      if (D.hasBaseline) {
        var bv = c.b && c.b.sc ? c.b.sc[String(s.m)] : undefined;
        var txt = bv === undefined ? "–" : fmt(bv, 4);
        if (bv !== undefined && s.v !== undefined) txt += " (" + (s.v - bv >= 0 ? "+" : "") + fmt(s.v - bv, 4) + ")";
        tr.appendChild(el("td", "num", txt));
      }
      var bound = [];
      if (s.t !== undefined) bound.push("≥ " + s.t);
      if (s.x !== undefined) bound.push("≤ " + s.x);
      tr.appendChild(el("td", null, bound.join(" and ") || "–"));
      tr.appendChild(el("td", s.p === false ? "st-failed" : s.p === true ? "st-passed" : null,
        s.p === undefined ? "info" : s.p ? "yes" : "no"));
      var ex = el("td");
      if (s.er) ex.appendChild(el("div", "st-failed", "error: " + s.er));
      if (s.sk) ex.appendChild(el("div", "muted", "skipped: " + s.sk));
      if (s.e) ex.appendChild(el("div", null, s.e));
      if (s.d !== undefined) ex.appendChild(el("pre", null, pretty(s.d)));
      tr.appendChild(ex);
      t.appendChild(tr);
    });
    return block("Scores", t, "full");
  }
  // ---------------------------------------------------------------- conversations

  // Only base64 raster data URLs become an image source (checked when the report is written,
  // and again here): never another scheme, never SVG.
  var SAFE_IMG = /^data:image\/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+\/]*={0,2}$/;
  var ROLES = ["system", "user", "assistant", "tool"];
  function T(k) { return k === undefined ? undefined : D.texts[k]; }
  function toolNames(c) {
    if (!c.cv) return "";
    return c.cv.map(function (s) { return (s.tc || []).map(function (t) { return t.n; }).join(" "); }).join(" ");
  }
  function thumb(k) {
    var im = D.images[k] || { src: "?", why: "missing from the report" };
    var fig = el("figure", "thumb");
    var url = im.d === undefined ? null : D.imageData[im.d];
    if (typeof url === "string" && SAFE_IMG.test(url)) {
      var img = document.createElement("img");
      img.alt = "image " + im.src;
      img.title = "click to enlarge";
      img.src = url;
      img.addEventListener("click", function () { fig.classList.toggle("zoom"); });
      fig.appendChild(img);
    } else {
      fig.classList.add("missing");
      fig.appendChild(el("div", "ph", im.why || "not shown"));
    }
    var cap = [im.src];
    if (im.size) cap.push(im.size);
    if (im.mime) cap.push(im.mime);
    fig.appendChild(el("figcaption", null, cap.join(" · ")));
    return fig;
  }
  function thumbs(list) {
    var row = el("div", "thumbs");
    list.forEach(function (k) { row.appendChild(thumb(k)); });
    return row;
  }
  function turnLine(tn) {
    var parts = ["turn " + (tn.i + 1)];
    if (tn.lat !== undefined) parts.push(fmt(tn.lat, 0) + " ms");
    if (tn.tok) parts.push(tn.tok[0] + " + " + tn.tok[1] + " tokens");
    if (tn.cost !== undefined) parts.push("$" + fmt(tn.cost, 6));
    if (tn.ca) parts.push("cached");
    if (tn.mo) parts.push(tn.mo);
    if (tn.fr) parts.push("finish: " + tn.fr);
    return parts.join(" · ");
  }
  function labelled(label, cls, text) {
    var d = el("div", "part");
    d.appendChild(el("div", "lbl", label));
    d.appendChild(el("pre", cls, text));
    return d;
  }
  function callBox(tc, inTurn) {
    var failed = tc.er !== undefined;
    var d = el("div", "call" + (failed ? " failed" : ""));
    var head = el("div", "call-head");
    head.appendChild(el("code", "call-name", tc.n));
    if (failed) head.appendChild(el("span", "badge bad", "✗ tool error"));
    if (tc.lat !== undefined) head.appendChild(el("span", "muted small", fmt(tc.lat, 1) + " ms"));
    if (tc.id) head.appendChild(el("span", "muted small", "id " + tc.id));
    d.appendChild(head);
    d.appendChild(labelled("arguments", "args", T(tc.a)));
    if (failed) d.appendChild(labelled("error", "tool-error", T(tc.er)));
    if (tc.r !== undefined) d.appendChild(labelled("result", "result", T(tc.r)));
    if (!failed && tc.r === undefined && inTurn) d.appendChild(el("div", "muted small", "no result recorded"));
    return d;
  }
  function stepBox(s) {
    if (s.gap !== undefined) {
      return el("div", "step gap", "… " + s.gap + " more message(s) not shown here (the results file has them all)");
    }
    var d = el("div", "step role-" + (ROLES.indexOf(s.ro) >= 0 ? s.ro : "other"));
    var head = el("div", "step-head");
    head.appendChild(el("span", "role", s.ro + (s.nm ? " (" + s.nm + ")" : "")));
    if (s.tn) head.appendChild(el("span", "muted small", turnLine(s.tn)));
    d.appendChild(head);
    if (s.tx !== undefined) d.appendChild(el("pre", "text", T(s.tx)));
    if (s.im) d.appendChild(thumbs(s.im));
    if (s.pt) d.appendChild(el("div", "muted small", "other content: " + s.pt.join(", ")));
    (s.tc || []).forEach(function (tc) { d.appendChild(callBox(tc, !!s.tn)); });
    return d;
  }
  function conversationBlock(c) {
    var wrap = el("div", "steps");
    (c.cv || []).forEach(function (s) { wrap.appendChild(stepBox(s)); });
    if (c.stop) wrap.appendChild(el("div", "stop", c.stop));
    var title = "Conversation";
    if (c.tr) {
      title = "Trajectory · " + c.tr[0] + " turn(s), " + c.tr[1] + " tool call(s)" + (c.tr[2] ? ", " + c.tr[2] + " failed" : "");
    }
    return block(title, wrap, "full");
  }
  function imagesBlock(c) {
    // Images already shown inside the conversation are not repeated.
    var inline = {};
    (c.cv || []).forEach(function (s) { (s.im || []).forEach(function (k) { inline[k] = true; }); });
    var rest = c.img.filter(function (k) { return !inline[k]; });
    return rest.length ? block("Images", thumbs(rest)) : null;
  }
  function listBlock(title, items) {
    var ol = el("ol");
    items.forEach(function (x) { ol.appendChild(el("li", null, x)); });
    return block(title, ol);
  }
  // ---------------------------------------------------------------- variants side by side

  // A case id (and repeat) across the suites its variants ran as (SUITE[VARIANT]).
  var VG = D.variantGroups || [];
  var suiteGroup = {};
  VG.forEach(function (g, gi) { g.s.forEach(function (si, k) { suiteGroup[si] = [gi, g.v[k]]; }); });
  var vIndex = null;
  function vKey(gi, id, r) { return gi + "\u0000" + id + "\u0000" + (r || 0); }
  function siblings(gi, id, r) {
    if (!vIndex) {
      vIndex = {};
      cases.forEach(function (c, i) {
        var sg = suiteGroup[c.s];
        if (!sg) return;
        var key = vKey(sg[0], c.id, c.r);
        (vIndex[key] = vIndex[key] || []).push(i);
      });
    }
    return vIndex[vKey(gi, id, r)] || [];
  }
  function variantCompare(gi, id, r, current) {
    var g = VG[gi];
    var idx = siblings(gi, id, r);
    var wrap = el("div", "vcmp-grid");
    var first = idx.length ? cases[idx[0]] : null;
    if (first && first.in !== undefined) wrap.appendChild(block("Input", first.in, "full"));
    if (first && first.exp !== undefined) wrap.appendChild(block("Expected", first.exp, "full"));
    g.v.forEach(function (name, k) {
      var at = null;
      idx.forEach(function (i) { if (cases[i].s === g.s[k]) at = i; });
      var card = el("div", "vcmp-card" + (at !== null && at === current ? " current" : ""));
      card.setAttribute("data-variant", name);
      var head = el("div", "vcmp-head");
      head.appendChild(el("code", "vname", name));
      card.appendChild(head);
      if (at === null) {
        head.appendChild(el("span", "muted small", "did not run this case"));
        wrap.appendChild(card);
        return;
      }
      var c = cases[at], st = D.statuses[c.st];
      head.appendChild(el("span", "st " + st, st));
      if (c.lat !== undefined) head.appendChild(el("span", "muted small", fmt(c.lat, 0) + " ms"));
      if (c.cost !== undefined) head.appendChild(el("span", "muted small", "$" + fmt(c.cost, 6)));
      if (c.tok) head.appendChild(el("span", "muted small", c.tok[2] + " tokens"));
      if (c.err) card.appendChild(el("pre", "vout st-errored", c.err));
      card.appendChild(el("pre", "vout", c.out === undefined ? "–" : c.out));
      if (c.sc) card.appendChild(scoreChips(c, "div"));
      wrap.appendChild(card);
    });
    return wrap;
  }
  window.__mlevalVariantCompare = variantCompare;

  function detail(i) {
    var c = cases[i];
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = 8;
    var grid = el("div", "detail-grid");
    if (c.err) grid.appendChild(block("Error", c.err, "error full"));
    grid.appendChild(block("Input", c.in === undefined ? "–" : c.in));
    if (c.pr !== undefined) grid.appendChild(block("Prompt", c.pr));
    var imgs = c.img ? imagesBlock(c) : null;
    if (imgs) grid.appendChild(imgs);
    grid.appendChild(block("Output", c.out === undefined ? "–" : c.out));
    var sg = suiteGroup[c.s];
    if (sg) grid.appendChild(block("Compare variants", variantCompare(sg[0], c.id, c.r, i), "full"));
    if (c.exp !== undefined) grid.appendChild(block("Expected", c.exp));
    if (c.exp !== undefined && c.out !== undefined) grid.appendChild(diffBlock(c.exp, c.out));
    if (c.cv || c.stop) grid.appendChild(conversationBlock(c));
    if (c.b) {
      grid.appendChild(block("Baseline output (" + D.statuses[c.b.st] + ")", c.b.out === undefined ? "–" : c.b.out));
    }
    if (c.ctx) grid.appendChild(listBlock("Context", c.ctx.map(function (k) { return D.docs[k]; })));
    if (c.ret) grid.appendChild(listBlock("Retrieved documents", c.ret));
    if (c.sc) grid.appendChild(scoresBlock(c));
    var kv = el("div", "kv");
    function item(k, v) { if (v === undefined || v === null || v === "") return; var s = el("span"); s.appendChild(el("b", null, k)); s.appendChild(document.createTextNode(String(v))); kv.appendChild(s); }
    // An answer from the cache shows its recorded call's timings: say so next to them.
    var recorded = c.ca ? " (recorded; from cache)" : "";
    item("latency", c.lat === undefined ? undefined : fmt(c.lat, 1) + " ms" + recorded);
    item("ttft", c.tt === undefined ? undefined : fmt(c.tt, 0) + " ms" + recorded);
    item("inter-token", c.itl === undefined ? undefined : fmt(c.itl, 1) + " ms" + recorded);
    item("output speed", c.tps === undefined ? undefined : fmt(c.tps, 1) + " tokens/s" + recorded);
    item("tokens", c.tok ? c.tok[0] + " prompt + " + c.tok[1] + " completion = " + c.tok[2] : undefined);
    item("cost", c.cost === undefined ? undefined : "$" + fmt(c.cost, 6));
    item("turns", c.tr ? c.tr[0] : undefined);
    item("tool calls", c.tr ? c.tr[1] + (c.tr[2] ? " (" + c.tr[2] + " failed)" : "") : undefined);
    item("model", c.mo);
    item("fallback", c.fb);
    item("cached", c.ca ? "yes" : undefined);
    item("retries", c.rt);
    item("cluster", c.cl);
    item("repeat", c.r);
    item("tags", c.tg ? c.tg.map(function (k) { return D.tagIndex[k]; }).join(", ") : undefined);
    item("node", c.nid);
    grid.appendChild(block("Call", kv, "full"));
    if (c.md !== undefined) grid.appendChild(block("Metadata", pretty(c.md), "full"));
    td.appendChild(grid);
    tr.appendChild(td);
    return tr;
  }
  function toggle(tr) {
    var next = tr.nextSibling;
    if (next && next.classList.contains("detail")) {
      body.removeChild(next);
      tr.classList.remove("open");
      return;
    }
    body.insertBefore(detail(+tr.getAttribute("data-i")), next);
    tr.classList.add("open");
  }

  // ---------------------------------------------------------------- wiring

  body.addEventListener("click", function (ev) {
    if (window.getSelection && String(window.getSelection()).length > 0) return;
    var tr = ev.target.closest("tr.case-row");
    if (tr) toggle(tr);
  });
  body.addEventListener("keydown", function (ev) {
    var tr = ev.target.closest && ev.target.closest("tr.case-row");
    if (tr && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); toggle(tr); }
  });
  var timer = null;
  document.getElementById("q").addEventListener("input", function (ev) {
    state.q = ev.target.value;
    clearTimeout(timer);
    timer = setTimeout(applyFilters, cases.length > 2000 ? 150 : 0);
  });
  [["f-suite", "suite"], ["f-status", "status"], ["f-tag", "tag"], ["sort", "sort"]].forEach(function (p) {
    document.getElementById(p[0]).addEventListener("change", function (ev) { state[p[1]] = ev.target.value; applyFilters(); });
  });
  var dirBtn = document.getElementById("sort-dir");
  dirBtn.addEventListener("click", function () {
    state.desc = !state.desc;
    dirBtn.textContent = state.desc ? "↓" : "↑";
    applyFilters();
  });
  document.querySelectorAll("th.sortable").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      if (state.sort === key) state.desc = !state.desc; else { state.sort = key; state.desc = false; }
      document.getElementById("sort").value = key;
      dirBtn.textContent = state.desc ? "↓" : "↑";
      applyFilters();
    });
  });
  document.getElementById("more").addEventListener("click", renderMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries[0].isIntersecting && state.shown < state.list.length) renderMore();
    }, { rootMargin: "600px" }).observe(document.getElementById("more-wrap"));
  }
  document.querySelectorAll(".case-link").forEach(function (b) {
    b.addEventListener("click", function () {
      var s = D.suites.indexOf(b.getAttribute("data-suite"));
      state.suite = s >= 0 ? String(s) : "";
      state.q = b.getAttribute("data-case");
      state.status = "";
      document.getElementById("f-suite").value = state.suite;
      document.getElementById("f-status").value = "";
      document.getElementById("q").value = state.q;
      applyFilters();
      document.getElementById("cases").scrollIntoView();
    });
  });

  // Each variant set's panel: pick a case, see every variant's output side by side.
  document.querySelectorAll(".vcmp").forEach(function (panel) {
    var name = panel.getAttribute("data-group");
    var gi = -1;
    VG.forEach(function (g, k) { if (g.g === name) gi = k; });
    var pick = panel.querySelector(".vcmp-pick"), out = panel.querySelector(".vcmp-out");
    if (gi < 0) { out.appendChild(el("p", "empty", "No cases of these variants in this report.")); return; }
    var keys = [], seen = {};
    cases.forEach(function (c) {
      var sg = suiteGroup[c.s];
      if (!sg || sg[0] !== gi) return;
      var key = vKey(gi, c.id, c.r);
      if (seen[key]) return;
      seen[key] = keys.length + 1;
      keys.push([c.id, c.r || 0]);
      pick.appendChild(el("option", null, c.id + (c.r ? " [r" + c.r + "]" : ""))).value = String(keys.length - 1);
    });
    function show(k) {
      while (out.firstChild) out.removeChild(out.firstChild);
      if (keys[k]) out.appendChild(variantCompare(gi, keys[k][0], keys[k][1], -1));
    }
    pick.addEventListener("change", function () { show(+pick.value); });
    var set = panel.closest(".variant-set");
    var links = set ? set.querySelectorAll(".vcmp-link") : [];
    Array.prototype.forEach.call(links, function (b) {
      b.addEventListener("click", function () {
        var k = seen[vKey(gi, b.getAttribute("data-case"), +b.getAttribute("data-r"))];
        if (!k) return;
        pick.value = String(k - 1);
        show(k - 1);
        panel.scrollIntoView({ block: "nearest" });
      });
    });
    // Open on the first case whose outcome differs between the variants, else the first.
    var start = links.length ? seen[vKey(gi, links[0].getAttribute("data-case"), +links[0].getAttribute("data-r"))] : 1;
    if (keys.length) { pick.value = String((start || 1) - 1); show((start || 1) - 1); }
  });

  window.__mlevalFilter = function (opts) {
    ["q", "suite", "status", "tag", "sort"].forEach(function (k) { if (k in opts) state[k] = String(opts[k]); });
    if ("desc" in opts) state.desc = !!opts.desc;
    applyFilters();
    return state.list.length;
  };
  applyFilters();
  ready();
})();
