// Parts of a page that refresh themselves: every element with data-refresh-url is fetched again every
// few seconds (rendered and escaped by the server) and replaced by the element of the same id in the
// answer, so new delivery attempts or a consumer group's lag show without a reload.
// Polling renews the session's idle clock: a tab nobody has touched for IDLE_STOP_MS stops polling,
// so an unattended console still signs itself out (HUB_CONSOLE_SESSION_IDLE_S).
"use strict";
(() => {
  const REFRESH_MS = 3000;
  const IDLE_STOP_MS = 5 * 60 * 1000;
  let lastActivity = Date.now();
  for (const kind of ["pointerdown", "keydown", "scroll", "focus"]) {
    window.addEventListener(kind, () => { lastActivity = Date.now(); }, { passive: true });
  }

  async function refresh(id, url) {
    const answer = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
    if (!answer.ok) return;
    const holder = document.createElement("template");
    holder.innerHTML = await answer.text();
    const fresh = holder.content.getElementById(id);
    const current = document.getElementById(id);
    if (!fresh || !current) return; // e.g. the session ended: the answer is the sign-in page
    if (window.hubConsoleTimes) window.hubConsoleTimes(fresh);
    fresh.dataset.refreshed = String(Number(current.dataset.refreshed || 0) + 1);
    current.replaceWith(fresh);
  }

  let busy = false;
  async function tick() {
    if (busy || document.hidden || Date.now() - lastActivity > IDLE_STOP_MS) return;
    busy = true;
    try {
      for (const element of document.querySelectorAll("[data-refresh-url]")) {
        await refresh(element.id, element.dataset.refreshUrl);
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

  window.setInterval(tick, REFRESH_MS);
  document.addEventListener("visibilitychange", tick);
})();
