// The web pages' only script (a static file: the Content-Security-Policy allows no inline
// script). The pages work without it; it adds two things:
// - the timezone field starts at the browser's own zone (on a fresh form, which the server marks
//   with data-default, when it is still at the default; never on one coming back with a choice);
// - the sign-up form shows a live preview of what its profile would have sent, as one types.
(function () {
  "use strict";
  var form = document.getElementById("profile-form");
  var zone = document.getElementById("timezone");
  if (zone && zone.value === zone.getAttribute("data-default")) {
    try {
      var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
      for (var i = 0; i < zone.options.length; i++) {
        if (zone.options[i].value === mine) { zone.value = mine; break; }
      }
    } catch (e) { /* an old browser: the default stays */ }
  }
  if (!form || !form.getAttribute("data-preview")) return;
  var section = document.getElementById("preview");
  var summary = document.getElementById("preview-summary");
  var list = document.getElementById("preview-list");
  var timer = null;
  var asked = 0;

  function show(data) {
    while (list.firstChild) list.removeChild(list.firstChild);
    if (data.errors) {
      var first = Object.keys(data.errors)[0];
      summary.textContent = data.errors[first];
      return;
    }
    var n = data.total;
    if (!data.stored) {  // nothing came in that week: not that nothing matched
      summary.textContent = "No papers came in over the last " + data.days + " days, so there is nothing to preview yet.";
      return;
    }
    summary.textContent = n + " of " + data.stored + (data.stored === 1 ? " paper" : " papers") + " from the last " +
      data.days + " days match" + (n === 1 ? "es" : "") + (data.papers.length ? "; the best " + data.papers.length + ":" : ".");
    data.papers.forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.textContent = p.title;  // text, never markup: titles come from feeds
      if (/^https?:\/\//.test(p.link)) a.href = p.link;
      a.rel = "noopener noreferrer";
      li.appendChild(a);
      if (p.why.length) {
        var why = document.createElement("span");
        why.className = "why";
        why.textContent = " (" + p.why.join(", ") + ")";
        li.appendChild(why);
      }
      list.appendChild(li);
    });
  }

  function refresh() {
    var mine = ++asked;
    section.classList.add("loading");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (r) {
      return r.status === 429 ? { errors: { rate: "Previewing too often: wait a minute." } } : r.json();
    }).then(function (data) {
      if (mine === asked) show(data);
    }).catch(function () {
      if (mine === asked) summary.textContent = "The preview is unavailable right now.";
    }).then(function () { section.classList.remove("loading"); });
  }

  ["keywords", "exclude", "authors", "likes", "max_papers"].forEach(function (name) {
    var field = document.getElementById(name);
    if (field) field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 600);
    });
  });
  var button = document.getElementById("preview-button");
  if (button) button.addEventListener("click", function (e) { e.preventDefault(); refresh(); });
})();
