"""The alert rules and the Grafana dashboard in deploy/ watch metrics that exist: every series
they select is in /metrics of a running hub (labels included), and every alert has a runbook."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Iterator
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from redis.asyncio import Redis

from hub.infra import heartbeat
from hub.processes import KINDS
from hub.settings import Settings
from tests.conftest import ROOT
from tests.test_alopeyk_receiver import receiver_path, webhook_body
from tests.test_observability import _serving
from tests.webhooks.conftest import Hub, Receiver, delivery_status, eventually

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "hub.json"
RUNBOOK = ROOT / "docs" / "operations.md"
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself, not the hub
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SEVERITIES = {"critical", "warning", "info"}

Selector = tuple[str, dict[str, str]]  # a metric name, and the labels it must equal


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


def every_expression() -> list[tuple[str, str]]:
    return [(rule["alert"], rule["expr"]) for rule in alert_rules()] + dashboard_expressions()


def selectors(expr: str) -> list[Selector]:
    """Every series selector in a PromQL expression, with its equality matchers."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    found: list[Selector] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr!r}"
            equal = {m.name: m.value for m in node.matchers.matchers if m.op == promql_parser.MatchOp.Equal}
            found.append((node.name, equal))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def exposed(text: str) -> dict[str, list[dict[str, str]]]:
    """Prometheus text exposition: metric name -> the label sets of its series."""
    series: dict[str, list[dict[str, str]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SERIES.match(line)
        assert match, f"not an exposition line: {line!r}"
        series.setdefault(match[1], []).append(dict(_LABEL.findall(match[2] or "")))
    return series


def missing(selector: Selector, series: dict[str, list[dict[str, str]]]) -> bool:
    name, labels = selector
    if name in PROMETHEUS_OWN:
        return False
    return not any(labels.items() <= found.items() for found in series.get(name, []))


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_parses_has_a_severity_and_a_runbook_section(rule: dict[str, Any]) -> None:
    assert selectors(rule["expr"]), rule["expr"]
    if "for" in rule:
        assert promql_parser.parse_duration(rule["for"])
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"]
    page, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert page == "docs/operations.md"
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    assert anchor in {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}, anchor


def test_the_dashboard_is_grafana_json_with_unique_panels_on_one_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"][
            "w"
        ] <= 24


async def test_every_series_the_alerts_and_the_dashboard_select_is_in_metrics(
    http: httpx.AsyncClient, merchant: dict[str, Any], redis: Redis, settings: Settings
) -> None:
    """Drive the hub through what the rules watch (ingestion, a dead letter, deliveries that
    succeed, fail for good, are refused, and an endpoint disabled), then read /metrics."""
    await http.post(receiver_path(merchant), json=webhook_body())
    await http.post(receiver_path(merchant), content=b"{", headers={"content-type": "application/json"})
    loopback = settings.replace(webhook_allow_http=True, webhook_allow_networks=("127.0.0.0/8",))
    good, gone = Receiver(), Receiver(behaviour=lambda count, event: (410, {}, 0.0))
    hub = Hub(redis, loopback)
    await hub.start()
    try:
        with _serving(good) as good_url, _serving(gone) as gone_url:
            await hub.endpoint(good, good_url)
            await hub.endpoint(gone, gone_url)
            internal = await hub.endpoint(Receiver(), gone_url.replace("127.0.0.1", "[::ffff:10.0.0.1]"))
            await hub.emit("shp_monitoring")
            await eventually(lambda: len(good.accepted()) == 2, 20, "the event and the disabled notice")
            await eventually(
                lambda: _all_failed(hub, internal.id), 20, "the deliveries to an internal address refused"
            )
    finally:
        await hub.close()  # the engine writes its counts before it stops

    selected = {s for _, expr in every_expression() for s in _hashable(selectors(expr))}
    series: dict[str, list[dict[str, str]]] = {}
    for _ in range(100):  # counters are written within a second of being counted
        series = exposed((await http.get("/metrics")).text)
        if not [s for s in selected if missing(_dict(s), series)]:
            break
        await asyncio.sleep(0.1)
    assert sorted(s for s in selected if missing(_dict(s), series)) == []


async def _all_failed(hub: Hub, endpoint_id: str) -> bool:
    statuses = await delivery_status(hub, endpoint_id)
    return bool(statuses) and set(statuses) == {"failed"}


def _hashable(found: list[Selector]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return [(name, tuple(sorted(labels.items()))) for name, labels in found]


def _dict(selector: tuple[str, tuple[tuple[str, str], ...]]) -> Selector:
    return selector[0], dict(selector[1])


def test_a_misspelt_metric_or_label_value_would_be_caught() -> None:
    series = exposed('hub_stream_length{stream="hub:inbox"} 3\nhub_ready 1\n')
    assert not missing(("hub_stream_length", {"stream": "hub:inbox"}), series)
    assert missing(("hub_stream_length", {"stream": "hub:inbx"}), series)
    assert missing(("hub_redy", {}), series)
    assert selectors('max(rate(hub_x{a="b", c=~"d.*"}[$__rate_interval])) / up') == [
        ("hub_x", {"a": "b"}),
        ("up", {}),
    ]


async def test_each_running_process_is_counted_and_one_that_stops_is_not(
    http: httpx.AsyncClient, redis_url: str
) -> None:
    """``hub normalizer`` and ``hub dispatcher`` as real processes: /metrics counts them while they
    run (HubProcessMissing watches this), and a stopped one drops out at once."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HUB_REDIS_URL": redis_url, "HUB_LOG_LEVEL": "warning"}
    started = [
        subprocess.Popen([sys.executable, "-m", "hub", kind], env=env, stderr=subprocess.DEVNULL)
        for kind in ("normalizer", "normalizer", "dispatcher")
    ]

    async def counted() -> dict[str, float]:
        series = (await http.get("/metrics")).text
        return {
            process: float(value)
            for process, value in re.findall(r'^hub_processes\{process="(\w+)"\} (\S+)$', series, re.M)
        }

    try:
        await eventually(
            lambda: _counts_are(counted(), normalizer=2, dispatcher=1), 30, "three processes reporting"
        )
        assert (await counted())["scheduler"] == 0  # a kind with none running is shown, as 0
        started[0].send_signal(signal.SIGTERM)
        assert started[0].wait(timeout=30) == 0
        assert await _counts_are(counted(), normalizer=1, dispatcher=1)  # withdrawn on the way out
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)


async def _counts_are(counting: Awaitable[dict[str, float]], **expected: float) -> bool:
    counts = await counting
    return all(counts.get(kind) == value for kind, value in expected.items())


def test_every_process_kind_is_shown_in_metrics_even_with_none_running() -> None:
    """A kind added to hub/processes.py is counted (and alerted on) under its name."""
    assert set(heartbeat.PROCESSES) == {kind.name for kind in KINDS}
