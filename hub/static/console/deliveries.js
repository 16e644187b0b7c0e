// The delivery log refreshes itself: every few seconds its rows are fetched again (server-rendered,
// escaped by the server) and swapped in, so new attempts show without reloading the page.
"use strict";
(function () {
  const REFRESH_MS = 3000;
  const table = document.getElementById("log");
  if (!table) return;
  const url = table.dataset.logUrl;
  let busy = false;

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (!answer.ok) return;
      const holder = document.createElement("template");
      holder.innerHTML = await answer.text();
      const rows = holder.content.getElementById("log-rows");
      const current = document.getElementById("log-rows");
      if (rows && current) {
        current.replaceWith(rows);
        table.dataset.refreshed = String(Number(table.dataset.refreshed || 0) + 1);
      }
    } catch (error) {
      // offline for a moment: the next tick tries again
    } finally {
      busy = false;
    }
  }

  window.setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
})();
