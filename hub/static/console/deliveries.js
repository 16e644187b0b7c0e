// The endpoint page's script. The delivery log refreshes itself: every few seconds its rows are
// fetched again (rendered and escaped by the server) and swapped in, so new attempts show without a reload.
"use strict";
(function () {
  const REFRESH_MS = 3000;
  // Polling renews the session's idle clock: a tab nobody has touched for this long stops polling,
  // so an unattended console still signs itself out (HUB_CONSOLE_SESSION_IDLE_S).
  const IDLE_STOP_MS = 5 * 60 * 1000;
  let lastActivity = Date.now();
  for (const kind of ["pointerdown", "keydown", "scroll", "focus"]) {
    window.addEventListener(kind, () => { lastActivity = Date.now(); }, { passive: true });
  }
  const table = document.getElementById("log");
  if (!table) return;
  const url = table.dataset.logUrl;
  let busy = false;

  async function refresh() {
    if (busy || document.hidden || Date.now() - lastActivity > IDLE_STOP_MS) return;
    busy = true;
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (!answer.ok) return;
      const holder = document.createElement("template");
      holder.innerHTML = await answer.text();
      const rows = holder.content.getElementById("log-rows");
      const current = document.getElementById("log-rows");
      if (rows && current) {
        if (window.hubConsoleTimes) window.hubConsoleTimes(rows);
        current.replaceWith(rows);
        table.dataset.refreshed = String(Number(table.dataset.refreshed || 0) + 1);
      }
    } catch (error) {
      // offline for a moment: the next tick tries again
    } finally {
      busy = false;
    }
  }

  // "Recover since" is typed in the viewer's time: its UTC offset at that moment goes with it.
  const recover = document.getElementById("recover");
  if (recover) {
    recover.addEventListener("submit", () => {
      const since = new Date(document.getElementById("since").value);
      if (!Number.isNaN(since.getTime())) {
        document.getElementById("since-offset").value = String(since.getTimezoneOffset());
      }
    });
  }

  window.setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
})();
