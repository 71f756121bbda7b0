// Follows a job while it is being made: every box marked data-progress-url asks its JSON
// status every two seconds and shows the stage (queued, training, generating, scoring,
// ready) and how many photos are made, without reloading. A box marked
// data-reload-when-done reloads the page once the job has ended, so the photos appear.
// data-progress-interval (ms) slows a list that follows many jobs (batches, review); a
// queued job keeps the words the page gave it ("Waiting for a GPU") until it starts.
// A static file, not an inline script: the Content-Security-Policy allows no inline code.
(function () {
  "use strict";
  if (!window.fetch) return;
  function follow(box, index) {
    if (box.getAttribute("data-open") !== "1") return;
    var every = parseInt(box.getAttribute("data-progress-interval"), 10) || 2000;
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("[data-progress-bar]");
    var text = box.querySelector("[data-progress-text]");
    var stage = box.querySelector("[data-stage]");
    function show(p) {
      if (stage && p.stage_label) {
        stage.textContent = p.stage_label;
        stage.setAttribute("data-stage", p.stage);
      }
      var made = p.made + " of " + p.expected + " photos made";
      if (p.stage === "training" && p.total) {
        made = "step " + p.step + " of " + p.total;
      }
      if (text && p.stage !== "queued") text.textContent = made;
      if (bar) {
        bar.max = p.stage === "training" && p.total ? p.total : p.expected;
        bar.value = p.stage === "training" && p.total ? p.step : p.made;
      }
    }
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (p) {
          show(p);
          if (!p.open) {
            box.setAttribute("data-open", "0");
            if (box.hasAttribute("data-reload-when-done")) window.location.reload();
            return;
          }
          window.setTimeout(tick, every);
        })
        .catch(function () { window.setTimeout(tick, Math.max(every, 5000)); });
    }
    // Many boxes: spread their first asks over the interval instead of all at once.
    window.setTimeout(tick, 1000 + (index * 150) % every);
  }
  var boxes = document.querySelectorAll("[data-progress-url]");
  for (var i = 0; i < boxes.length; i++) follow(boxes[i], i);
})();
