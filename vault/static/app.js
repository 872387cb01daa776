/* Every page's script.
 * The menu: one task group open at a time, closed by a click elsewhere or Escape;
 * on a phone the whole menu folds behind the "Menu" button. Without JavaScript the
 * groups still open (they are <details>) and the menu stays unfolded.
 * Forms marked data-keep (decisions that may ask for the password again first) keep
 * what was typed in this tab's sessionStorage when sent, and get it back when the
 * page shows the same form again within ten minutes (after /reauth). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function groups() { return document.querySelectorAll("header.top details"); }

  function closeAll(except) {
    groups().forEach(function (d) { if (d !== except) { d.open = false; } });
  }

  var KEEP = "vault.keep:";
  var KEEP_MS = 10 * 60 * 1000;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-keep")) { return; }
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "csrf_token" && el.type !== "file" && el.type !== "hidden" && el.type !== "password") {
        fields[el.name] = el.value;
      }
    });
    try {
      sessionStorage.setItem(KEEP + form.action, JSON.stringify({at: Date.now(), fields: fields}));
    } catch (e) { /* storage full or off: the form is sent all the same */ }
  }, true);

  function restoreKept() {
    document.querySelectorAll("form[data-keep]").forEach(function (form) {
      var raw = null;
      try { raw = sessionStorage.getItem(KEEP + form.action); } catch (e) { return; }
      if (!raw) { return; }
      sessionStorage.removeItem(KEEP + form.action);
      var kept = JSON.parse(raw);
      if (!kept || Date.now() - kept.at > KEEP_MS) { return; }
      Object.keys(kept.fields).forEach(function (name) {
        var el = form.elements.namedItem(name);
        if (el && "value" in el && !el.value) { el.value = kept.fields[name]; }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    restoreKept();
    groups().forEach(function (d) {
      d.addEventListener("toggle", function () { if (d.open) { closeAll(d); } });
    });
    var toggle = document.querySelector("header.top .nav-toggle");
    var header = document.querySelector("header.top");
    if (toggle && header) {
      toggle.addEventListener("click", function () {
        var open = header.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("header.top details")) { closeAll(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeAll(null); }
  });
})();
