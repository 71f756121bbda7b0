// Uploads each chosen photo on its own request so every file gets a progress
// bar and its own verdict; without JavaScript the form posts all files at once.
(function () {
  "use strict";
  var form = document.querySelector("form[data-uploader]");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var input = form.querySelector("input[type=file]");
  var list = form.querySelector(".uploads");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function row(name) {
    var li = document.createElement("li");
    li.className = "upload";
    var label = document.createElement("span");
    label.textContent = name;
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + name);
    var status = document.createElement("span");
    status.className = "status";
    li.appendChild(label); li.appendChild(bar); li.appendChild(status);
    list.appendChild(li);
    return { li: li, bar: bar, status: status };
  }

  var verdicts = [];

  function show(ui, selfie, error) {
    if (selfie) {
      var ok = selfie.status === "accepted";
      ui.status.textContent = ok ? " Usable" : " Not usable: " + selfie.reasons.join(" ");
      ui.li.className = "upload " + (ok ? "done" : "failed");
    } else {
      ui.status.textContent = " " + error;
      ui.li.className = "upload failed";
    }
  }

  // The verdicts still awaited, asked for together: one request for all of this page's
  // photos (after 1 s, then 1.5x longer each time, at most 5 s apart), not one per photo.
  var statusesUrl = form.getAttribute("data-statuses-url");
  var waiting = {};  // photo id -> {ui, resolve}
  var timer = null, wait = 1000;

  function settle(id, body) {
    var entry = waiting[id];
    delete waiting[id];
    if (body && body.selfie) show(entry.ui, body.selfie, "");
    else show(entry.ui, null, (body && body.error) || "This photo could not be checked. Please upload it again.");
    entry.resolve();
  }

  function ask_all() {
    timer = null;
    var ids = Object.keys(waiting);
    if (!ids.length) return;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", statusesUrl + "?ids=" + ids.join(","));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if ((xhr.status >= 400 && xhr.status < 500) || (xhr.status === 200 && !body.photos)) {
        // Refused as asked, or a page instead of an answer (signed out, no longer a
        // member): no later answer will differ.
        ids.forEach(function (id) { if (waiting[id]) settle(id, { error: body.error }); });
        return;
      }
      var photos = body.photos || {};
      ids.forEach(function (id) {
        var state = photos[id];
        if (state && state.status !== "pending" && waiting[id]) settle(id, state);
      });
      wait = Math.min(wait * 1.5, 5000);
      schedule(wait);
    };
    xhr.onerror = function () { schedule(5000); };
    xhr.send();
  }

  function schedule(delay) {
    if (timer === null && Object.keys(waiting).length) timer = setTimeout(ask_all, delay);
  }

  function await_verdict(selfie, ui) {
    return new Promise(function (resolve) {
      waiting[selfie.id] = { ui: ui, resolve: resolve };
      // A photo just sent is first asked about a second later, as each one always was.
      if (timer !== null && wait > 1000) { clearTimeout(timer); timer = null; }
      wait = 1000;
      schedule(wait);
    });
  }

  function send(file) {
    return new Promise(function (resolve) {
      var ui = row(file.name);
      var data = new FormData();
      data.append("photos", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", token);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 90);
      };
      xhr.onload = function () {
        ui.bar.value = 100;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = { error: "Upload failed." }; }
        var result = (body.results || [])[0] || body;
        if (result.ok && result.selfie && result.selfie.status === "pending") {
          // Checked off the request path: the next photo goes up while this one's
          // verdict is awaited.
          ui.status.textContent = " Uploaded, being checked…";
          verdicts.push(await_verdict(result.selfie, ui));
        } else if (result.ok && result.selfie) {
          show(ui, result.selfie, "");
        } else {
          show(ui, null, result.error || body.error || "Upload failed.");
        }
        resolve();
      };
      xhr.onerror = function () {
        ui.status.textContent = " Network error: try again.";
        ui.li.className = "upload failed";
        resolve();
      };
      xhr.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    if (!input.files.length) return;
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files);
    var chain = Promise.resolve();
    files.forEach(function (file) { chain = chain.then(function () { return send(file); }); });
    chain.then(function () { return Promise.all(verdicts); })
      .then(function () { window.location.reload(); });
  });
})();
