// The tracking page's languages: one JSON catalog per language served by the hub, Intl for
// times, numbers and calendars (fa-IR: the Persian calendar and digits; th-TH: the Buddhist era).
(function () {
  "use strict";
  const SUPPORTED = ["en", "fa", "ar", "th", "hi"];
  const RTL = new Set(["fa", "ar"]);
  // The locale when the browser names the language without a region: the providers' countries.
  const REGION = { en: "en", fa: "fa-IR", ar: "ar-SA", th: "th-TH", hi: "hi-IN" };
  const STORE = "hubTrack.lang";
  const catalogs = new Map();

  function primary(tag) { return String(tag || "").toLowerCase().split("-")[0]; }

  function stored() {
    try { return localStorage.getItem(STORE); } catch (e) { return null; }  // storage may be off
  }

  // ?lang= first, then the language chosen on this page before, then the server's pick from
  // Accept-Language (the same list as navigator.languages), then navigator.languages, then English.
  function pick(serverLang) {
    const asked = primary(new URLSearchParams(location.search).get("lang"));
    for (const lang of [asked, stored(), serverLang, ...(navigator.languages || []).map(primary)]) {
      if (SUPPORTED.includes(lang)) return lang;
    }
    return "en";
  }

  function localeFor(lang) {
    const own = (navigator.languages || []).find((tag) => primary(tag) === lang && tag.includes("-"));
    return own || REGION[lang];
  }

  async function catalog(lang) {
    if (!catalogs.has(lang)) {
      const response = await fetch(`/static/live/i18n/${lang}.json`);
      if (!response.ok) throw new Error(`catalog ${lang}: ${response.status}`);
      catalogs.set(lang, await response.json());
    }
    return catalogs.get(lang);
  }

  async function use(lang) {
    const words = await catalog(lang);
    const locale = localeFor(lang);
    const when = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    const clock = new Intl.DateTimeFormat(locale, { timeStyle: "short" });
    const day = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });
    const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    const numbers = new Intl.NumberFormat(locale);
    const t = (key, vars) => {
      let text = words[key] !== undefined ? words[key] : key;
      for (const [name, value] of Object.entries(vars || {})) text = text.split(`{${name}}`).join(value);
      return text;
    };
    return {
      lang, locale, dir: RTL.has(lang) ? "rtl" : "ltr", t,
      status: (status) => words[`status.${status}`] || words["status.unknown"],
      number: (n) => numbers.format(n),
      when: (date) => when.format(date),
      // The clock time alone when it is today, else date and time.
      at: (date) => (day.format(date) === day.format(new Date()) ? clock : when).format(date),
      // "in 12 minutes" up to 90 minutes ahead, then in hours.
      fromNow: (ms) => {
        const minutes = Math.round(ms / 60000);
        return Math.abs(minutes) < 90 ? relative.format(minutes, "minute") : relative.format(Math.round(minutes / 60), "hour");
      },
    };
  }

  // The page's fixed labels, its lang and dir; the dynamic parts are the page's to render.
  function apply(i18n) {
    const root = document.documentElement;
    root.lang = i18n.lang;
    root.dir = i18n.dir;
    document.title = i18n.t("title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = i18n.t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", i18n.t(el.dataset.i18nLabel));
    for (const [selector, key] of [[".leaflet-control-zoom-in", "zoom_in"], [".leaflet-control-zoom-out", "zoom_out"]]) {
      for (const el of document.querySelectorAll(selector)) { el.title = i18n.t(key); el.setAttribute("aria-label", i18n.t(key)); }
    }
  }

  function remember(lang) {
    try { localStorage.setItem(STORE, lang); } catch (e) { /* not remembered: still switched */ }
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(history.state, "", url);
  }

  window.TrackI18n = { SUPPORTED, pick, use, apply, remember };
})();
