/* The signature pad of the follow-up visit form: draw with a finger, pen or mouse;
   on submit the drawing goes into the form as a PNG data URL (stored encrypted by
   the server). An untouched pad sends nothing. */
(function () {
  "use strict";
  var canvas = document.getElementById("signature-canvas");
  var field = document.getElementById("signature-data");
  var form = document.querySelector("[data-signature-form]");
  if (!canvas || !field || !form) { return; }
  var ctx = canvas.getContext("2d");
  var drawn = false, down = false;
  ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
  function clear() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height); drawn = false;
  }
  function at(ev) {
    var r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * canvas.width / r.width, (ev.clientY - r.top) * canvas.height / r.height];
  }
  clear();
  canvas.addEventListener("pointerdown", function (ev) {
    down = true; canvas.setPointerCapture(ev.pointerId);
    var p = at(ev); ctx.beginPath(); ctx.moveTo(p[0], p[1]); ev.preventDefault();
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!down) { return; }
    var p = at(ev); ctx.lineTo(p[0], p[1]); ctx.stroke(); drawn = true; ev.preventDefault();
  });
  function up() { down = false; }
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  document.getElementById("signature-clear").addEventListener("click", clear);
  form.addEventListener("submit", function () {
    var phone = document.getElementById("method-telephone");
    field.value = drawn && !(phone && phone.checked) ? canvas.toDataURL("image/png") : "";
  });
}());
