// A form marked data-busy="Working…" disables its button and says so while the request
// runs, so a long action (previews, exports) never looks stuck or gets clicked twice.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var label = form.getAttribute && form.getAttribute("data-busy");
    if (!label) return;
    var button = form.querySelector("button[type=submit]");
    if (!button) return;
    window.setTimeout(function () { button.disabled = true; }, 0);
    button.textContent = label;
    form.setAttribute("aria-busy", "true");
  });
})();
