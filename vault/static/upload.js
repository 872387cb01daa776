/* Uploads with a progress bar (XMLHttpRequest upload progress).
 *
 * Any <form class="upload-form"> is sent with XHR so the bar can move; the server
 * answers as for a plain form post, except that where it would redirect it says where
 * to go (204 with X-Vault-Location, so the next page and its one-time message are
 * loaded once, by the browser) — or sends the form again with its errors, which
 * replaces the page's <main>. Without JavaScript the form posts normally.
 */
(function () {
  "use strict";

  function messages(form) {
    var m = form.querySelector("#upload-messages") || document.getElementById("upload-messages");
    return m ? m.dataset : {};
  }

  function show(form, percent, text) {
    var box = form.querySelector(".upload-status");
    var bar = form.querySelector("progress");
    var label = form.querySelector("[aria-live]");
    if (box) { box.hidden = false; }
    if (bar) {
      if (percent === null) { bar.removeAttribute("value"); } else { bar.value = percent; }
    }
    if (label) { label.textContent = text || ""; }
  }

  function replaceMain(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector("main");
    var main = document.querySelector("main");
    if (fresh && main) {
      main.replaceWith(fresh);
      document.dispatchEvent(new Event("vault:page"));
      window.scrollTo(0, 0);
    } else {
      document.open();
      document.write(html);
      document.close();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("upload-form")) { return; }
    if (!window.FormData || !window.XMLHttpRequest) { return; }
    event.preventDefault();
    var text = messages(form);
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Vault-Upload", "1");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var p = Math.floor((e.loaded / e.total) * 100);
        show(form, p, (text.sending || "{p}").replace("{p}", p + "%"));
      }
    });
    xhr.upload.addEventListener("load", function () {
      show(form, 100, text.checking || "");
    });
    xhr.addEventListener("load", function () {
      var next = xhr.getResponseHeader("X-Vault-Location");
      if (xhr.status === 204 && next) {
        window.location.assign(next);  /* the server's message waits there */
        return;
      }
      replaceMain(xhr.responseText);
    });
    xhr.addEventListener("error", function () {
      if (button) { button.disabled = false; }
      show(form, 0, text.failed || "");
    });
    show(form, 0, (text.sending || "{p}").replace("{p}", "0%"));
    xhr.send(new FormData(form));
  });

  /* Register form: the category pre-fills level and period; internal files have none. */
  function setupRegister() {
    var form = document.getElementById("register-form");
    if (!form) { return; }
    var defaults = JSON.parse(form.dataset.defaults || "{}");
    var levelYears = JSON.parse(form.dataset.levelYears || "{}");
    var category = form.querySelector("#category");
    var level = form.querySelector("#level");
    var years = form.querySelector("#period_years");
    var period = form.querySelector("#period");
    var touched = years && years.value !== "";

    function currentLevel() {
      if (level.value) { return level.value; }
      var d = defaults[category.value];
      return d ? d.level : "";
    }
    var call = form.querySelector("#call-fields");
    function refreshPeriod() {
      var lv = currentLevel();
      if (call) { call.hidden = category.value !== "call_recording"; }
      if (period) { period.hidden = lv === "internal"; }
      var kind = form.querySelector("input[name=period_kind]:checked");
      var k = kind ? kind.value : "duration";
      form.querySelectorAll(".period-duration, .period-date, .period-condition").forEach(function (el) {
        el.hidden = !el.classList.contains("period-" + k);
      });
    }
    category.addEventListener("change", function () {
      var d = defaults[category.value];
      if (d) {
        level.value = d.level;
        if (years) { years.value = d.years || ""; touched = false; }
      }
      refreshPeriod();
    });
    level.addEventListener("change", function () {
      if (years && !touched) { years.value = levelYears[level.value] || ""; }
      refreshPeriod();
    });
    if (years) { years.addEventListener("input", function () { touched = true; }); }
    form.querySelectorAll("input[name=period_kind]").forEach(function (el) {
      el.addEventListener("change", refreshPeriod);
    });
    refreshPeriod();
  }

  document.addEventListener("DOMContentLoaded", setupRegister);
  document.addEventListener("vault:page", setupRegister);
})();
