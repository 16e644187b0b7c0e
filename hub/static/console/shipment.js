// The shipment page: its positions trail and stops on a small map, and the tracking link's Copy button.
"use strict";
(() => {
  const copy = document.getElementById("copy-link");
  if (copy) {
    copy.addEventListener("click", async () => {
      const input = document.getElementById(copy.dataset.copy);
      const said = document.getElementById("copied");
      try {
        await navigator.clipboard.writeText(input.value);
        said.textContent = "Copied";
      } catch {
        input.select(); // no clipboard permission (plain http): selected for Ctrl-C
        said.textContent = "Selected: press Ctrl-C to copy";
      }
    });
  }

  const element = document.getElementById("trail-map");
  if (!element || !window.L) return;
  const trail = JSON.parse(element.dataset.trail || "[]");
  const stops = JSON.parse(element.dataset.stops || "[]");
  const map = L.map(element, { zoomControl: true, attributionControl: true, maxZoom: 19 });
  if (element.dataset.tileUrl) {
    L.tileLayer(element.dataset.tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  }
  const points = trail.map((p) => [p.lat, p.lng]);
  const bounds = [];
  if (points.length) {
    L.polyline(points, { className: "trail-line" }).addTo(map);
    const last = points[points.length - 1];
    L.circleMarker(last, { radius: 9, className: `courier-dot status-${element.dataset.status}` })
      .bindTooltip("Courier's last position").addTo(map);
    bounds.push(...points);
  }
  for (const stop of stops) {
    if (!stop.location) continue;
    const at = [stop.location.lat, stop.location.lng];
    L.circleMarker(at, { radius: 7, className: `stop-dot stop-${stop.kind}` })
      .bindTooltip(`${stop.kind}: ${stop.status}`).addTo(map);
    bounds.push(at);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  else map.setView([35.7, 51.4], 10);
  window.hubConsoleShipment = { trail: () => points.length };
})();
