/* sopflow site search: substring search over ticket titles and wiki pages, Chinese included.
   The index (window.SOPFLOW_SEARCH) is written at build time into search-index.js. Results are built
   with textContent only, so nothing from the index is ever interpreted as HTML. */
(function () {
  "use strict";
  var docs = window.SOPFLOW_SEARCH || [];
  var input = document.getElementById("q");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!input || !list || !status) { return; }
  function norm(s) { return String(s || "").normalize("NFKC").toLowerCase(); }
  var prepared = docs.map(function (d) {
    return { d: d, title: norm((d.i ? d.i + " " : "") + d.t), rest: norm((d.g || "") + " " + (d.x || "")) };
  });
  function words(q) { return norm(q).split(/\s+/).filter(function (w) { return w.length > 0; }); }
  function snippet(text, w) {
    var low = norm(text), i = low.indexOf(w);
    if (i < 0) { return ""; }
    var start = Math.max(0, i - 30);
    return (start > 0 ? "…" : "") + text.substr(start, 90) + (start + 90 < text.length ? "…" : "");
  }
  function run(q) {
    var ws = words(q);
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!ws.length) { status.textContent = status.getAttribute("data-hint"); return; }
    var hits = [];
    prepared.forEach(function (p) {
      var score = 0;
      for (var k = 0; k < ws.length; k++) {
        var w = ws[k];
        if (p.title.indexOf(w) >= 0) { score += 10; }
        else if (p.rest.indexOf(w) >= 0) { score += 1; }
        else { return; }
      }
      hits.push({ p: p, score: score + (p.d.k === "w" ? 0.5 : 0) });
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    status.textContent = hits.length ? hits.length + " " + status.getAttribute("data-results")
                                     : status.getAttribute("data-none");
    hits.slice(0, 200).forEach(function (h) {
      var d = h.p.d;
      var li = document.createElement("li");
      li.className = "result result-" + (d.k === "w" ? "wiki" : "ticket");
      var kind = document.createElement("span");
      kind.className = "badge";
      kind.textContent = status.getAttribute(d.k === "w" ? "data-wiki" : "data-ticket");
      li.appendChild(kind);
      li.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = d.u;
      a.textContent = (d.i ? d.i + " " : "") + d.t;
      li.appendChild(a);
      if (d.s) {
        var st = document.createElement("span");
        st.className = "badge state";
        st.textContent = d.s;
        li.appendChild(document.createTextNode(" "));
        li.appendChild(st);
      }
      if (d.k === "w" && h.p.title.indexOf(ws[0]) < 0) {
        var sn = document.createElement("div");
        sn.className = "muted small";
        sn.textContent = snippet(d.x || "", ws[0]);
        li.appendChild(sn);
      }
      list.appendChild(li);
    });
  }
  var params = new URLSearchParams(window.location.search);
  var q0 = params.get("q") || "";
  input.value = q0;
  run(q0);
  input.addEventListener("input", function () {
    run(input.value);
    if (window.history && window.history.replaceState) {
      var url = new URL(window.location.href);
      url.searchParams.set("q", input.value);
      window.history.replaceState(null, "", url.toString());
    }
  });
})();
