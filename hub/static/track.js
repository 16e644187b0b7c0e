// The recipient's live map: the JSON view first, then /v1/live events, reconnecting by itself.
(function () {
  "use strict";
  const body = document.body;
  const token = body.dataset.token;
  const tileUrl = body.dataset.tileUrl;
  const LABELS = {
    pending: "Order placed", searching_courier: "Finding a courier", courier_assigned: "Courier assigned",
    at_pickup: "Courier at pickup", picked_up: "Picked up", in_transit: "On the way",
    out_for_delivery: "Out for delivery", at_dropoff: "Courier has arrived", delivered: "Delivered",
    delivery_failed: "Delivery failed", returning: "Returning to sender", returned: "Returned",
    cancelled: "Cancelled", expired: "Expired", exception: "Problem with delivery", unknown: "Status update",
  };
  const FINISHED = new Set(["delivered", "returned", "cancelled", "expired"]);
  const COURIER_STYLE = { color: "#0b5394", fillColor: "#1e88e5" };
  const LATE_STYLE = { color: "#8a3c00", fillColor: "#ef6c00" };
  const STOP_KINDS = { origin: "Pickup", destination: "Drop-off", return: "Return" };
  const MOVE_MS = 1000;
  const RECONNECT_MAX_MS = 15000;
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const $ = (id) => document.getElementById(id);

  const map = L.map("map", { zoomControl: true, keyboard: true }).setView([0, 0], 2);
  if (tileUrl) {
    L.tileLayer(tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(map);
  }
  const trail = L.polyline([], { color: "#0b5394", weight: 4, opacity: 0.8 }).addTo(map);
  const stopLayer = L.layerGroup().addTo(map);
  let courier = null;
  let animation = null;
  let offset = null;
  let socket = null;
  let retryMs = 500;
  let fitted = false;
  let loading = null;  // a reload in progress; events wait for it so they apply in order
  // Late: the hub published shipment.delayed for the ETA still shown, and the shipment is not finished.
  const late = { eta: null, lateEta: null, finished: false };

  function label(status) { return LABELS[status] || status || "–"; }
  function timeEl(iso) {
    const t = document.createElement("time");
    t.dateTime = iso;
    t.textContent = when.format(new Date(iso));
    return t;
  }

  function showLate() {
    const isLate = Boolean(late.lateEta) && late.lateEta === late.eta && !late.finished;
    const el = $("late");
    el.hidden = !isLate;
    el.textContent = isLate ? `Running late: expected by ${when.format(new Date(late.lateEta))}` : "";
    if (courier) courier.setStyle(isLate ? LATE_STYLE : COURIER_STYLE);
  }

  function showState(state) {
    if (state.status !== undefined) {
      $("status").textContent = label(state.status);
      late.finished = FINISHED.has(state.status);
    }
    if (state.eta !== undefined) {  // an event without an ETA leaves the one shown
      late.eta = state.eta;
      $("eta").textContent = state.eta ? when.format(new Date(state.eta)) : "–";
    }
    $("provider").textContent = state.provider || "–";
    if (state.courier) {
      $("courier").textContent = [state.courier.name, state.courier.phone].filter(Boolean).join(" · ") || "–";
    }
  }

  function addTimeline(entry) {
    const li = document.createElement("li");
    const what = document.createElement("span");
    what.textContent = label(entry.status);
    if (entry.stale) { li.className = "stale"; what.textContent += " (reported late)"; }
    li.append(what, timeEl(entry.time));
    $("timeline").prepend(li);
  }

  function showStops(stops) {
    stopLayer.clearLayers();
    const list = $("stops");
    list.replaceChildren();
    if (!stops.length) {
      const li = document.createElement("li");
      li.textContent = "No stop reported yet.";
      list.append(li);
    }
    for (const stop of stops) {
      const name = `${STOP_KINDS[stop.kind] || stop.kind} ${stop.index}`;
      const li = document.createElement("li");
      li.textContent = `${name}: ${stop.status}`;
      const at = document.createElement("span");
      at.className = "when";
      at.append(timeEl(stop.time));
      li.append(at);
      list.append(li);
      if (stop.location) {
        L.circleMarker([stop.location.lat, stop.location.lng], {
          radius: 8, color: stop.kind === "origin" ? "#1b5e20" : "#b71c1c", fillOpacity: 0.9,
        }).bindTooltip(name).addTo(stopLayer);
      }
    }
  }

  function moveCourier(lat, lng) {
    trail.addLatLng([lat, lng]);
    if (!courier) {
      courier = L.circleMarker([lat, lng], { radius: 10, ...COURIER_STYLE, fillOpacity: 1 })
        .bindTooltip("Courier").addTo(map);
      showLate();
      return;
    }
    const from = courier.getLatLng();
    const start = performance.now();
    if (animation) cancelAnimationFrame(animation);
    const step = (now) => {
      const k = Math.min(1, (now - start) / MOVE_MS);
      courier.setLatLng([from.lat + (lat - from.lat) * k, from.lng + (lng - from.lng) * k]);
      animation = k < 1 ? requestAnimationFrame(step) : null;
    };
    animation = requestAnimationFrame(step);
  }

  function fit() {
    const bounds = trail.getBounds();
    stopLayer.eachLayer((m) => bounds.extend(m.getLatLng()));
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 }); fitted = true; }
  }

  let stops = new Map();
  async function load() {
    const response = await fetch(`/v1/track/${encodeURIComponent(token)}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`tracking lookup failed: ${response.status}`);
    const view = await response.json();
    offset = view.offset;
    showState(view);
    $("timeline").replaceChildren();
    view.timeline.forEach(addTimeline);
    trail.setLatLngs([]);
    if (courier) { courier.remove(); courier = null; }
    view.trail.forEach((p) => moveCourier(p.lat, p.lng));
    if (!view.trail.length && view.location) moveCourier(view.location.lat, view.location.lng);
    stops = new Map(view.stops.map((s) => [s.index, s]));
    showStops(view.stops);
    late.lateEta = view.late_eta || null;
    showLate();
    fit();
  }

  function onEvent(frame) {
    offset = frame.offset;
    const e = frame.event;
    const d = e.data;
    // Only a status change (not a late one) says what the status is; positions and stops carry none.
    const status = e.type === "shipment.status_changed" && !d.stale ? d.status : undefined;
    if (d.eta || d.courier) showState({ status, eta: d.eta || undefined, provider: d.provider, courier: d.courier });
    if (e.type === "shipment.status_changed") {
      if (!d.stale) { $("status").textContent = label(d.status); late.finished = FINISHED.has(d.status); }
      addTimeline({ status: d.status, time: e.time, stale: d.stale });
    } else if (e.type === "shipment.delayed") {
      late.lateEta = d.eta;
    } else if (e.type === "shipment.location_updated" && d.location) {
      moveCourier(d.location.lat, d.location.lng);
      if (!fitted || !map.getBounds().contains([d.location.lat, d.location.lng])) fit();
    } else if (e.type === "shipment.stop_updated" && d.stop) {
      stops.set(d.stop.index, { ...d.stop, time: e.time });
      showStops([...stops.values()].sort((a, b) => a.index - b.index));
    }
    showLate();
  }

  function setConnection(text) {
    const el = $("connection");
    el.hidden = !text;
    el.textContent = text || "";
  }

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
      if (frame.type === "subscribed") { retryMs = 500; setConnection(""); }
      else if (frame.type === "snapshot") loading = load();  // missed events were trimmed: start afresh
      else if (frame.type === "event") { if (loading) await loading; onEvent(frame); }
    };
    socket.onclose = (closed) => {
      clearTimeout(alive);
      if (closed.code === 4004) { setConnection("This tracking link is not valid."); return; }
      setConnection("Connection lost. Reconnecting…");
      setTimeout(connect, retryMs);
      retryMs = Math.min(RECONNECT_MAX_MS, retryMs * 2);
    };
  }

  window.hubTrack = {
    courier: () => (courier ? courier.getLatLng() : null),
    connected: () => socket && socket.readyState === WebSocket.OPEN,
    late: () => !$("late").hidden,
    courierColor: () => (courier ? courier.options.fillColor : null),
  };
  load().then(connect, (error) => { $("status").textContent = "This tracking link is not valid."; console.error(error); });
})();
