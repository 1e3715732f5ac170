// The settings page sends each edit to the JSON API and shows its answer.
"use strict";
(function () {
  const message = document.getElementById("message");

  function say(text, ok) {
    message.textContent = text;
    message.className = "message " + (ok ? "ok" : "error");
  }

  async function send(method, url, body) {
    const response = await fetch(url, {
      method: method,
      headers: {"Content-Type": "application/json"},
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || response.statusText);
    }
    return data;
  }

  async function attempt(what, action) {
    try {
      await action();
      say(what + "：已保存", true);
    } catch (error) {
      say(what + "：" + error.message, false);
    }
  }

  const ruleForm = document.getElementById("rule-form");
  ruleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(ruleForm);
    attempt("接听规则", () => send("PATCH", ruleForm.dataset.url, {
      strategy: form.get("strategy"),
      ring_timeout_s: Number(form.get("ring_timeout_s")),
      total_timeout_s: Number(form.get("total_timeout_s")),
      overflow: form.get("overflow"),
    }));
  });

  for (const button of document.querySelectorAll(".save-binding")) {
    button.addEventListener("click", () => {
      const row = button.closest("tr");
      const field = (name) => row.querySelector(`[name="${name}"]`);
      attempt("话机 " + row.dataset.phoneId, () => send("PATCH", row.dataset.url, {
        position: Number(field("position").value),
        weight: Number(field("weight").value),
        enabled: field("enabled").checked,
      }));
    });
  }

  const addSchedule = document.getElementById("add-schedule");
  if (addSchedule) {
    addSchedule.addEventListener("click", () => attempt("营业时间", async () => {
      await send("POST", addSchedule.dataset.url, {name: "office"});
      window.location.reload();
    }));
  }

  for (const form of document.querySelectorAll("form.schedule")) {
    const body = form.querySelector("tbody");
    form.querySelector(".add-window").addEventListener("click", () => {
      const row = document.createElement("tr");
      row.className = "window";
      row.innerHTML = '<td><input name="days" value="mon,tue,wed,thu,fri" aria-label="日期"></td>' +
        '<td><input name="opens" type="time" value="09:00" aria-label="开始"></td>' +
        '<td><input name="closes" value="18:00" aria-label="结束"></td>' +
        '<td><button type="button" class="remove-window">删除</button></td>';
      body.appendChild(row);
    });
    body.addEventListener("click", (event) => {
      if (event.target.classList.contains("remove-window")) {
        event.target.closest("tr").remove();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const windows = [...body.querySelectorAll("tr.window")].map((row) => ({
        days: row.querySelector('[name="days"]').value.split(",").map((d) => d.trim())
          .filter((d) => d),
        opens: row.querySelector('[name="opens"]').value,
        closes: row.querySelector('[name="closes"]').value,
      }));
      const override = form.querySelector('[name="override"]').value || null;
      const closedOutside = form.querySelector('[name="closed_outside"]').checked;
      attempt("营业时间", async () => {
        await send("PUT", form.dataset.url + "/hours", windows);
        await send("PATCH", form.dataset.url, {override: override});
        const rule = form.dataset.closingRule;
        if (closedOutside && !rule) {
          // First in the plan: outside the hours nothing else applies.
          const made = await send("POST", form.dataset.rules, {
            action: "closed", name: "非工作时间", position: 1,
            schedule: form.dataset.name, schedule_is: "closed"});
          form.dataset.closingRule = made.id;
        } else if (!closedOutside && rule) {
          await send("DELETE", form.dataset.rules + "/" + rule);
          form.dataset.closingRule = "";
        }
      });
    });
  }
})();
