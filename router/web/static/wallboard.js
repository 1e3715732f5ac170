// The wallboard: the live view arrives by server-sent events; durations tick here.
"use strict";
(function () {
  const labels = window.HOTLINE_LABELS;
  const callsBody = document.querySelector("#live-calls tbody");
  const phones = document.getElementById("phones");
  const todayBody = document.querySelector("#today tbody");
  const status = document.getElementById("status");
  // When each call was first shown in each state (read by the latency benchmark).
  const shown = [];
  const seen = new Set();
  let onBoard = new Map();  // call id -> caller, as last drawn
  window.hotlineWallboard = {shown: shown, views: 0};

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function since(iso) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    for (const td of document.querySelectorAll("[data-since]")) {
      td.textContent = since(td.dataset.since);
    }
  }

  function render(view) {
    const now = Date.now();
    callsBody.replaceChildren();
    for (const call of view.calls) {
      const row = document.createElement("tr");
      row.dataset.callId = call.id;
      row.dataset.state = call.state;
      row.className = "call " + call.state;
      cell(row, labels.callStates[call.state] || call.state, "state");
      cell(row, call.hotline + (call.hotline_name ? " " + call.hotline_name : ""));
      cell(row, call.caller, "caller");
      const duration = cell(row, "", "duration");
      duration.dataset.since = call.answered_at || call.started_at;
      cell(row, call.state === "talking" ? call.answered_by : call.ringing.join("、"));
      callsBody.appendChild(row);
      const key = call.id + "/" + call.state;
      if (!seen.has(key)) {
        seen.add(key);
        shown.push({id: call.id, caller: call.caller, state: call.state, at: now});
      }
    }
    const now_on = new Map(view.calls.map((call) => [call.id, call.caller]));
    for (const [id, caller] of onBoard) {
      if (!now_on.has(id)) shown.push({id: id, caller: caller, state: "gone", at: now});
    }
    onBoard = now_on;
    document.getElementById("call-count").textContent = view.calls.length;
    document.getElementById("no-calls").hidden = view.calls.length > 0;

    phones.replaceChildren();
    for (const phone of view.phones) {
      const item = document.createElement("li");
      item.className = "phone " + phone.state;
      item.dataset.phoneId = phone.id;
      item.dataset.state = phone.state;
      const name = document.createElement("b");
      name.textContent = phone.label || phone.dial_string;
      const state = document.createElement("span");
      state.textContent = (labels.phoneStates[phone.state] || phone.state)
        + (phone.pause_reason ? " · " + phone.pause_reason : "");
      item.append(name, state);
      item.title = phone.dial_string + " · " + phone.hotlines.join(", ");
      phones.appendChild(item);
    }

    todayBody.replaceChildren();
    for (const line of view.today) {
      const row = document.createElement("tr");
      row.dataset.hotline = line.hotline;
      for (const value of [line.hotline, line.name, line.calls, line.answered, line.missed]) {
        cell(row, String(value));
      }
      todayBody.appendChild(row);
    }
    window.hotlineWallboard.views += 1;
    tick();
  }

  const source = new EventSource("/api/v1/live/stream");
  source.addEventListener("view", (event) => render(JSON.parse(event.data)));
  source.addEventListener("open", () => { status.textContent = "实时"; status.className = "status ok"; });
  source.addEventListener("error", () => { status.textContent = "重新连接中…"; status.className = "status error"; });
  setInterval(tick, 1000);
})();
