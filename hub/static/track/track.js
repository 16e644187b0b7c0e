// The recipient's page: the JSON view first, then /v1/live events, reconnecting by itself;
// everything shown is kept in `state` and rendered in the chosen language.
(function () {
  "use strict";
  const body = document.body;
  const token = body.dataset.token;
  const $ = (id) => document.getElementById(id);
  // The whole journey, in order (hub/model/status.py); the other statuses leave it.
  const JOURNEY = ["pending", "searching_courier", "courier_assigned", "at_pickup", "picked_up", "in_transit",
    "out_for_delivery", "at_dropoff", "delivered"];
  const FINISHED = new Set(["delivered", "returned", "cancelled", "expired"]);
  const RECONNECT_MAX_MS = 15000;
  const TICK_MS = 15000;  // the relative ETA ("in 12 minutes") is rewritten this often

  const state = {
    loaded: false, invalid: false, status: null, eta: null, lateEta: null, courier: null,
    providerName: null, brand: null, timeline: [], stops: new Map(), connection: null,
  };
  let i18n = null;
  let offset = null;
  let socket = null;
  let retryMs = 500;
  let fitted = false;
  let loading = null;  // a reload in progress; events wait for it so they apply in order
  const map = TrackMap.create($("map"), body.dataset.tileUrl, (missing) => { $("no-tiles").hidden = !missing; });

  const finished = () => FINISHED.has(state.status);
  // Late: the hub published shipment.delayed for the ETA still shown, and the shipment is not finished.
  const isLate = () => Boolean(state.lateEta) && state.lateEta === state.eta && !finished();

  function timeEl(iso) {
    const t = document.createElement("time");
    t.dateTime = iso;
    t.textContent = i18n.when(new Date(iso));
    return t;
  }

  function renderStatus() {
    const el = $("status");
    if (state.invalid) el.textContent = i18n.t("invalid_link");
    else if (!state.loaded) el.textContent = i18n.t("loading");
    else el.textContent = state.status ? i18n.status(state.status) : "–";
  }

  function reachedStep() {
    let step = JOURNEY.indexOf(state.status);
    if (step < 0) {
      for (const entry of state.timeline) if (!entry.stale) step = Math.max(step, JOURNEY.indexOf(entry.status));
    }
    return Math.max(step, 0);
  }

  function renderProgress() {
    const step = reachedStep();
    const ended = finished() && state.status !== "delivered";
    const label = ended
      ? i18n.t("progress_ended", { status: i18n.status(state.status) })
      : i18n.t("progress_step", {
        step: i18n.number(step + 1), total: i18n.number(JOURNEY.length),
        status: i18n.status(JOURNEY.includes(state.status) || !state.status ? JOURNEY[step] : state.status),
      });
    const bar = $("progress");
    bar.setAttribute("aria-valuemax", String(JOURNEY.length));
    bar.setAttribute("aria-valuenow", String(step + 1));
    bar.setAttribute("aria-valuetext", label);
    bar.classList.toggle("ended", ended);
    $("progress-fill").style.inlineSize = `${((step + 1) / JOURNEY.length) * 100}%`;  // CSSOM: CSP allows it
    $("progress-text").textContent = label;
  }

  function renderEta() {
    const relative = $("eta-relative");
    const at = $("eta");
    relative.textContent = "";
    at.textContent = "";
    if (!state.eta) { relative.textContent = i18n.t("eta_unknown"); return; }
    const eta = new Date(state.eta);
    const ahead = eta.getTime() - Date.now();
    if (finished()) at.textContent = i18n.when(eta);
    else if (ahead > 0) {
      relative.textContent = i18n.t("eta_in", { relative: i18n.fromNow(ahead) });
      at.textContent = i18n.t("eta_at", { time: i18n.at(eta) });
    } else at.textContent = i18n.t("eta_passed", { time: i18n.when(eta) });
  }

  function renderLate() {
    const late = isLate();
    const el = $("late");
    el.hidden = !late;
    el.textContent = late ? i18n.t("late", { time: i18n.when(new Date(state.lateEta)) }) : "";
    map.setLate(late);
  }

  function renderFacts() {
    const courier = $("courier");
    courier.replaceChildren();
    if (state.courier && (state.courier.name || state.courier.phone)) {
      if (state.courier.name) courier.append(state.courier.name);
      if (state.courier.phone) {
        const phone = document.createElement("bdi");  // digits and stars stay in order in RTL
        phone.className = "phone";
        phone.dir = "ltr";
        phone.textContent = state.courier.phone;
        phone.setAttribute("aria-label", `${i18n.t("phone")} ${state.courier.phone}`);
        courier.append(state.courier.name ? " · " : "", phone);
      }
    } else courier.textContent = i18n.t("courier_unknown");
    $("provider").textContent = state.providerName || "–";
    map.relabel(state.courier && state.courier.name ? state.courier.name : i18n.t("legend_courier"));
  }

  function renderTimeline() {
    const list = $("timeline");
    list.replaceChildren();
    if (!state.timeline.length) {
      const li = document.createElement("li");
      li.textContent = i18n.t("timeline_empty");
      list.append(li);
    }
    for (const entry of [...state.timeline].reverse()) {
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = i18n.status(entry.status);
      if (entry.stale) { li.className = "stale"; what.textContent += ` ${i18n.t("reported_late")}`; }
      li.append(what, timeEl(entry.time));
      list.append(li);
    }
  }

  function stopName(stop) {
    const kind = i18n.t(`stop.${stop.kind}`);
    return `${kind.startsWith("stop.") ? stop.kind : kind} ${i18n.number(stop.index + 1)}`;  // counted from one
  }

  function renderStops() {
    const stops = [...state.stops.values()].sort((a, b) => a.index - b.index);
    const list = $("stops");
    list.replaceChildren();
    if (!stops.length) {
      const li = document.createElement("li");
      li.textContent = i18n.t("no_stops");
      list.append(li);
    }
    for (const stop of stops) {
      const li = document.createElement("li");
      const word = i18n.t(`stop_status.${stop.status}`);
      li.textContent = `${stopName(stop)}: ${word.startsWith("stop_status.") ? stop.status : word}`;
      const at = document.createElement("span");
      at.className = "when";
      at.append(timeEl(stop.time));
      li.append(at);
      list.append(li);
    }
    map.setStops(stops.map((stop) => ({ ...stop, label: stopName(stop) })));
  }

  function renderBrand() {
    const brand = state.brand || {};
    const root = document.documentElement;
    $("brand-name").textContent = brand.name || "";
    const logo = $("brand-logo");
    if (brand.logo_url) {
      if (logo.getAttribute("src") !== brand.logo_url) logo.src = brand.logo_url;
      logo.alt = brand.name ? i18n.t("brand_logo", { name: brand.name }) : "";
      logo.hidden = false;
    } else logo.hidden = true;
    if (brand.color) {  // custom properties through the CSSOM: the CSP allows it (no style attribute)
      root.style.setProperty("--brand", brand.color);
      root.style.setProperty("--brand-text", brand.text_color);
    }
    body.classList.toggle("branded", Boolean(brand.color));
    body.classList.toggle("brand-dark", brand.text_color === "#ffffff");
  }

  function renderConnection() {
    const el = $("connection");
    el.hidden = !state.connection;
    el.textContent = state.connection ? i18n.t(state.connection) : "";
  }

  function renderAll() {
    renderBrand(); renderStatus(); renderProgress(); renderEta(); renderLate(); renderFacts();
    renderTimeline(); renderStops(); renderConnection();
  }

  async function load() {
    const response = await fetch(`/v1/track/${encodeURIComponent(token)}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`tracking lookup failed: ${response.status}`);
    const view = await response.json();
    offset = view.offset;
    Object.assign(state, {
      loaded: true, status: view.status, eta: view.eta, lateEta: view.late_eta || null, courier: view.courier,
      providerName: view.provider_name, brand: view.brand, timeline: view.timeline,
      stops: new Map(view.stops.map((s) => [s.index, s])),
    });
    map.reset();
    view.trail.forEach((p) => map.moveCourier(p.lat, p.lng, false));
    if (!view.trail.length && view.location) map.moveCourier(view.location.lat, view.location.lng, false);
    renderAll();
    fitted = map.fit();
  }

  function onEvent(frame) {
    offset = frame.offset;
    const e = frame.event;
    const d = e.data;
    if (d.eta) state.eta = d.eta;  // an event without an ETA leaves the one shown
    if (d.courier) state.courier = d.courier;
    if (e.type === "shipment.status_changed") {
      if (!d.stale) state.status = d.status;  // a late report joins the timeline, not the status
      state.timeline.push({ status: d.status, time: e.time, stale: d.stale });
    } else if (e.type === "shipment.delayed") {
      state.lateEta = d.eta;
    } else if (e.type === "shipment.location_updated" && d.location) {
      map.moveCourier(d.location.lat, d.location.lng, true);
      if (!fitted || !map.shows(d.location.lat, d.location.lng)) fitted = map.fit();
    } else if (e.type === "shipment.stop_updated" && d.stop) {
      state.stops.set(d.stop.index, { ...d.stop, time: e.time });
    }
    if (e.type !== "shipment.location_updated") renderAll();
    else { renderEta(); renderLate(); renderFacts(); }
  }

  function invalid() {
    state.invalid = true;
    body.classList.add("invalid");  // only the message is left to show
    renderStatus();
  }

  function setConnection(key) { state.connection = key; renderConnection(); }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/v1/live`);
    let alive = null;
    const watchdog = () => { clearTimeout(alive); alive = setTimeout(() => socket.close(), 60000); };
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "subscribe", tracking_token: token, ...(offset ? { since: offset } : {}) }));
      watchdog();
    };
    socket.onmessage = async (message) => {
      watchdog();
      const frame = JSON.parse(message.data);
      if (frame.type === "subscribed") { retryMs = 500; setConnection(null); }
      else if (frame.type === "snapshot") loading = load();  // missed events were trimmed: start afresh
      else if (frame.type === "event") { if (loading) await loading; onEvent(frame); }
    };
    socket.onclose = (closed) => {
      clearTimeout(alive);
      if (closed.code === 4004) { invalid(); return; }
      setConnection("connection_lost");
      setTimeout(connect, retryMs);
      retryMs = Math.min(RECONNECT_MAX_MS, retryMs * 2);
    };
  }

  async function switchLanguage(lang) {
    i18n = await TrackI18n.use(lang);
    TrackI18n.remember(lang);
    TrackI18n.apply(i18n);
    renderAll();
  }

  window.hubTrack = {
    courier: () => map.courier(),
    connected: () => Boolean(socket) && socket.readyState === WebSocket.OPEN,
    late: () => !$("late").hidden,
    courierColor: () => map.courierColor(),
    lang: () => (i18n ? i18n.lang : null),
  };

  async function start() {
    const lang = TrackI18n.pick(body.dataset.lang);
    i18n = await TrackI18n.use(lang);
    TrackI18n.apply(i18n);
    $("language").value = lang;
    $("language").addEventListener("change", (event) => { switchLanguage(event.target.value); });
    if (body.dataset.state === "invalid") { invalid(); return; }  // an unknown or expired link
    setInterval(renderEta, TICK_MS);
    renderAll();
    try {
      await load();
    } catch (error) {
      invalid();
      console.error(error);
      return;
    }
    connect();
  }
  start();
})();
