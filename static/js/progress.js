// While headshots are being made, ask for progress every two seconds and
// reload once the job is done, so new candidates appear without a refresh.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || box.getAttribute("data-open") !== "1" || !window.fetch) return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("[data-progress-bar]");
  var text = box.querySelector("[data-progress-text]");
  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (bar) { bar.max = p.expected; bar.value = p.made; }
        if (text) text.textContent = p.made + " of " + p.expected + " photos made";
        if (!p.open) { window.location.reload(); return; }
        window.setTimeout(tick, 2000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 1500);
})();
