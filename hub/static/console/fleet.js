// The fleet map: the merchant's active shipments on one Leaflet map, clustered, coloured by status,
// moving as events arrive over /v1/live (merchant scope, a browser token minted for the session),
// resuming from the last offset after a drop. No inline script: the CSP allows only the hub's files.
"use strict";
(() => {
  const element = document.getElementById("fleet");
  const summary = document.getElementById("fleet-summary");
  const connection = document.getElementById("fleet-connection");
  const list = document.getElementById("fleet-list");
  const csrf = document.querySelector("form.signout input[name=csrf]").value;
  const TERMINAL = new Set(["delivered", "returned", "cancelled", "expired"]);
  const GROUPS = {
    courier_assigned: "to-pickup", at_pickup: "to-pickup",
    picked_up: "on-the-way", in_transit: "on-the-way", out_for_delivery: "on-the-way", at_dropoff: "on-the-way",
    delivery_failed: "trouble", returning: "trouble", exception: "trouble",
  };
  const shipments = new Map(); // id -> {data, marker}
  let offset = null;
  let socket = null;
  let connected = false;
  let retryMs = 1000;
  let loading = false; // while a fresh state loads, live events wait, then apply on top of it
  let waiting = [];

  const map = L.map(element, { zoomControl: true, maxZoom: 19 }).setView([35.7, 51.4], 11); // clustering needs maxZoom, tiles or not
  if (element.dataset.tileUrl) {
    L.tileLayer(element.dataset.tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  }
  const cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  map.addLayer(cluster);
  let fitted = false;

  const group = (status) => GROUPS[status] || "waiting";
  const label = (d) => `${d.merchant_ref || d.provider_ref} · ${(d.status || "registered").replace(/_/g, " ")}`
    + (d.late_eta ? " · late" : "");
  const icon = (d) => L.divIcon({
    className: `fleet-marker status-${group(d.status)}${d.late_eta ? " late" : ""}`,
    iconSize: [20, 20],
    html: "",
  });

  function draw(id) {
    const entry = shipments.get(id);
    const d = entry.data;
    if (!d.location) return;
    const at = [d.location.lat, d.location.lng];
    if (!entry.marker) {
      entry.marker = L.marker(at, { icon: icon(d), title: label(d), keyboard: true, riseOnHover: true });
      entry.marker.on("click", () => { window.location.assign(d.url); });
      cluster.addLayer(entry.marker);
    } else {
      entry.marker.setLatLng(at);
      entry.marker.setIcon(icon(d));
      if (entry.marker.getElement()) entry.marker.getElement().title = label(d);
    }
  }

  function remove(id) {
    const entry = shipments.get(id);
    if (entry && entry.marker) cluster.removeLayer(entry.marker);
    shipments.delete(id);
  }

  let describing = false;
  function describe() { // at most once a frame, however many events arrive
    if (describing) return;
    describing = true;
    requestAnimationFrame(() => {
      describing = false;
      describeNow();
    });
  }

  function describeNow() {
    let placed = 0;
    let late = 0;
    list.replaceChildren();
    for (const { data } of shipments.values()) {
      if (data.location) placed += 1;
      if (data.late_eta) late += 1;
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = data.url;
      link.textContent = label(data);
      item.append(link);
      list.append(item);
    }
    summary.textContent = `${shipments.size} active · ${placed} on the map · ${late} late`;
  }

  function load(body) {
    for (const id of [...shipments.keys()]) remove(id);
    for (const d of body.shipments) {
      shipments.set(d.id, { data: d, marker: null });
      draw(d.id);
    }
    offset = body.offset;
    const placed = body.shipments.filter((d) => d.location).map((d) => [d.location.lat, d.location.lng]);
    if (placed.length && !fitted) {
      map.fitBounds(placed, { padding: [32, 32], maxZoom: 15 });
      fitted = true;
    }
    describe();
  }

  function apply(event) {
    if (loading) {
      waiting.push(event);
      return;
    }
    const data = event.data || {};
    const id = event.partitionkey || data.shipment_id;
    if (!id) return;
    if (TERMINAL.has(data.status) && !data.stale) { // finished: off the map, whatever event says so
      remove(id);
      describe();
      return;
    }
    let entry = shipments.get(id);
    if (!entry) {
      entry = {
        data: {
          id, merchant_ref: data.merchant_ref, provider: data.provider, provider_ref: data.provider_ref,
          status: null, location: null, eta: null, late_eta: null, courier: null, sequence: 0,
          url: `/console/shipments/${encodeURIComponent(id)}`,
        },
        marker: null,
      };
      shipments.set(id, entry);
    }
    const d = entry.data;
    if (typeof event.sequence === "number" && event.sequence <= d.sequence) return; // already shown
    if (typeof event.sequence === "number") d.sequence = event.sequence;
    if (data.status && !data.stale) d.status = data.status; // a stale status is history, not news
    if (data.location) d.location = data.location;
    if (data.courier && data.courier.name) d.courier = data.courier.name;
    if (event.type === "shipment.delayed") d.late_eta = data.eta || d.eta;
    else if (data.eta && data.eta !== d.late_eta) d.late_eta = null; // a new ETA: not late (yet)
    if (data.eta) d.eta = data.eta;
    draw(id);
    describe();
  }

  async function fetchState() {
    loading = true;
    try {
      const answer = await fetch("/console/fleet.json", { credentials: "same-origin", redirect: "manual" });
      if (answer.type === "opaqueredirect" || answer.status === 401) return signIn();
      if (!answer.ok) throw new Error(`fleet.json: ${answer.status}`);
      load(await answer.json());
    } finally {
      loading = false;
      const held = waiting;
      waiting = [];
      held.forEach(apply); // those the new state already holds are skipped by their sequence
    }
  }

  async function mintToken() {
    const answer = await fetch("/console/live-token", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
    });
    if (answer.status === 401 || answer.status === 403) return signIn();
    if (!answer.ok) throw new Error(`live-token: ${answer.status}`);
    return (await answer.json()).token;
  }

  function signIn() {
    window.location.assign(`/console/signin?next=${encodeURIComponent("/console/")}`);
    return null;
  }

  function say(text) {
    connection.hidden = !text;
    connection.textContent = text || "";
  }

  async function connect() {
    let token;
    try {
      token = await mintToken();
    } catch (error) {
      return retry();
    }
    if (!token) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/v1/live`);
    socket.onopen = () => {
      const subscribe = { type: "subscribe", token };
      if (offset) subscribe.since = offset;
      socket.send(JSON.stringify(subscribe));
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "subscribed") {
        connected = true;
        retryMs = 1000;
        say("");
      } else if (frame.type === "snapshot") {
        window.hubFleet.reloads += 1;
        fetchState().catch(() => {}); // too far behind to replay: start over from a fresh state
      } else if (frame.type === "event") {
        apply(frame.event);
        offset = frame.offset;
      }
    };
    socket.onclose = (closed) => {
      connected = false;
      socket = null;
      if (closed.code === 4003) {
        say("Your access to live updates ended (key revoked or merchant disabled).");
        return;
      }
      retry();
    };
  }

  function retry() {
    say("Connection lost. Reconnecting…");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  }

  window.hubFleet = {
    connected: () => connected,
    reloads: 0,
    count: () => shipments.size,
    positions: () => Object.fromEntries([...shipments].map(([id, e]) => [id, e.data.location])),
    position: (id) => (shipments.get(id) || { data: {} }).data.location || null,
    markerClass: (id) => {
      const entry = shipments.get(id);
      const marker = entry && entry.marker;
      return marker ? marker.options.icon.options.className : null;
    },
    drop: () => { if (socket) socket.close(); }, // what a network drop does (tests resume after it)
  };

  fetchState().then(connect).catch(() => { say("Could not load the fleet. Retrying…"); retry(); });
})();
