// The tracking map: Leaflet with the hub's tiles when they load, and a plain background with the
// same markers when they do not. The courier glides between positions unless motion is reduced.
(function () {
  "use strict";
  const COURIER = { color: "#0b5394", fillColor: "#1e88e5" };
  const LATE = { color: "#8a3c00", fillColor: "#ef6c00" };
  const STOP_COLORS = { origin: "#1b5e20", destination: "#b71c1c", return: "#4a148c" };
  const STOP_CLASSES = { origin: "marker-pickup", destination: "marker-dropoff", return: "marker-return" };
  const MOVE_MS = 1000;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function create(element, tileUrl, onNoTiles) {
    const map = L.map(element, { zoomControl: true, keyboard: true }).setView([0, 0], 2);
    let loaded = 0;
    const noTiles = () => { element.classList.add("no-tiles"); onNoTiles(true); };
    if (tileUrl) {
      const tiles = L.tileLayer(tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(map);
      tiles.on("tileerror", () => { if (!loaded) noTiles(); });
      tiles.on("tileload", () => { loaded += 1; element.classList.remove("no-tiles"); onNoTiles(false); });
    } else {
      noTiles();
    }
    const trail = L.polyline([], { color: "#0b5394", weight: 4, opacity: 0.8, className: "trail" }).addTo(map);
    const stopLayer = L.layerGroup().addTo(map);
    let courier = null;
    let animation = null;
    let late = false;
    let courierLabel = "";

    function style() { return late ? LATE : COURIER; }

    function moveCourier(lat, lng, animate) {
      trail.addLatLng([lat, lng]);
      if (!courier) {
        courier = L.circleMarker([lat, lng], { radius: 10, ...style(), fillOpacity: 1, className: "marker-courier" })
          .bindTooltip(courierLabel).addTo(map);
        return;
      }
      if (animation) cancelAnimationFrame(animation);
      animation = null;
      if (!animate || reducedMotion.matches) { courier.setLatLng([lat, lng]); return; }
      const from = courier.getLatLng();
      const start = performance.now();
      const step = (now) => {
        const k = Math.min(1, (now - start) / MOVE_MS);
        courier.setLatLng([from.lat + (lat - from.lat) * k, from.lng + (lng - from.lng) * k]);
        animation = k < 1 ? requestAnimationFrame(step) : null;
      };
      animation = requestAnimationFrame(step);
    }

    function reset() {
      if (animation) cancelAnimationFrame(animation);
      animation = null;
      trail.setLatLngs([]);
      if (courier) { courier.remove(); courier = null; }
    }

    // stops: [{kind, location, label}]
    function setStops(stops) {
      stopLayer.clearLayers();
      for (const stop of stops) {
        if (!stop.location) continue;
        L.circleMarker([stop.location.lat, stop.location.lng], {
          radius: 9, weight: 3, color: "#ffffff", fillColor: STOP_COLORS[stop.kind] || STOP_COLORS.destination,
          fillOpacity: 1, className: STOP_CLASSES[stop.kind] || "marker-dropoff",
        }).bindTooltip(stop.label).addTo(stopLayer);
      }
    }

    function fit() {
      const bounds = trail.getBounds();
      stopLayer.eachLayer((m) => bounds.extend(m.getLatLng()));
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
      return bounds.isValid();
    }

    return {
      moveCourier, reset, setStops, fit,
      shows: (lat, lng) => map.getBounds().contains([lat, lng]),
      setLate(isLate) { late = isLate; if (courier) courier.setStyle(style()); },
      relabel(label) { courierLabel = label; if (courier) courier.setTooltipContent(label); },
      courier: () => (courier ? courier.getLatLng() : null),
      courierColor: () => (courier ? courier.options.fillColor : null),
    };
  }

  window.TrackMap = { create };
})();
