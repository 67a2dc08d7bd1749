// autograde review: keys 1-9 tick the first nine items, Ctrl+Enter saves, the running score, the
// write-up page input. The page works without it.
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); } }
  ready(function () {
    var form = document.getElementById("grade-form");
    if (!form) { return; }
    var boxes = Array.prototype.slice.call(form.querySelectorAll('input[type=checkbox][name=item]'));
    var list = document.getElementById("items");
    var adjustment = document.getElementById("adjustment");
    var out = document.getElementById("running-score");
    var max = parseFloat(list ? list.getAttribute("data-max") : "0") || 0;

    function update() {
      var total = max;
      boxes.forEach(function (b) { if (b.checked) { total += parseFloat(b.getAttribute("data-points")) || 0; } });
      total += parseFloat(adjustment && adjustment.value) || 0;
      total = Math.min(max, Math.max(0, total));
      if (out) { out.textContent = String(Math.round(total * 10000) / 10000); }
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    if (adjustment) { adjustment.addEventListener("input", update); }
    update();

    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(document.getElementById("save-next")); } else { form.submit(); }
        return;
      }
      var target = event.target;
      var typing = target && (target.tagName === "TEXTAREA" || target.isContentEditable ||
        (target.tagName === "INPUT" && target.type !== "checkbox"));
      if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key >= "1" && event.key <= "9") {
        var box = boxes[parseInt(event.key, 10) - 1];
        if (box) { event.preventDefault(); box.checked = !box.checked; update(); }
      }
    });

    var page = document.getElementById("writeup-page");
    var go = document.getElementById("writeup-go");
    var frame = document.getElementById("writeup-frame");
    if (page && go && frame) {
      go.addEventListener("click", function (event) {
        event.preventDefault();
        var n = Math.max(1, parseInt(page.value, 10) || 1);
        // A new frame: the PDF viewer does not always follow a changed #page= in the same frame.
        var fresh = frame.cloneNode(false);
        fresh.src = frame.src.split("#")[0] + "#page=" + n;
        frame.parentNode.replaceChild(fresh, frame);
        frame = fresh;
      });
    }
  });
})();
