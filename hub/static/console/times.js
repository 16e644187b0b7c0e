// Shows every <time data-iso> / <time data-ms> in the viewer's zone and language.
"use strict";
(() => {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const show = (element, date) => {
    if (Number.isNaN(date.getTime())) return;
    element.setAttribute("datetime", date.toISOString());
    element.textContent = format.format(date);
  };
  window.hubConsoleTimes = (root) => {
    for (const element of root.querySelectorAll("time[data-iso]")) show(element, new Date(element.dataset.iso));
    for (const element of root.querySelectorAll("time[data-ms]")) show(element, new Date(Number(element.dataset.ms)));
  };
  window.hubConsoleTimes(document);
})();
