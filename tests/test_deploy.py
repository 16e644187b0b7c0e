"""Deployment files parse, and every process and command they name exists."""

from __future__ import annotations

import argparse
import configparser
import re
import shlex
from typing import Any

import pytest
import yaml

from hub.cli import _parser
from hub.processes import KINDS
from tests.conftest import ROOT

PROCESSES = {kind.name for kind in KINDS}


def hub_subcommands() -> set[str]:
    [subparsers] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(subparsers.choices)


def assert_hub_command(command: list[str]) -> None:
    assert command[0] in ("hub", "/opt/hub/.venv/bin/hub"), command
    assert command[1] in hub_subcommands(), f"`hub {command[1]}` does not exist"


def test_procfile_has_one_line_per_process_each_a_hub_command() -> None:
    lines = [line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert {name for name, _ in lines} == PROCESSES
    for _, command in lines:
        assert_hub_command(shlex.split(command))


def test_docker_compose_runs_every_process_against_persistent_redis_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    assert set(services) == PROCESSES | {"redis"}
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        if name != "redis":
            assert_hub_command(service["command"])
            assert service["environment"]["HUB_REDIS_URL"].startswith("redis://redis:")
    for check in (services[name]["healthcheck"]["test"] for name in PROCESSES - {"web"}):
        assert_hub_command(check[1:])


def test_kubernetes_has_a_deployment_per_process_probes_and_requests() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "hub.yaml").read_text()))
    deployments = {
        doc["metadata"]["labels"]["process"]: doc for doc in documents if doc["kind"] == "Deployment"
    }
    assert set(deployments) == PROCESSES
    assert any(doc["kind"] == "Service" and doc["spec"]["selector"]["process"] == "web" for doc in documents)
    for process, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert_hub_command(container["command"])
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
        assert "livenessProbe" in container, process
    web = deployments["web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_systemd_unit_per_process(process: str) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((ROOT / "deploy" / "systemd" / f"hub-{process}.service").read_text())
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert_hub_command(shlex.split(unit["Service"]["ExecStart"]))


def test_scaling_page_names_every_process() -> None:
    page = (ROOT / "deploy" / "SCALING.md").read_text()
    for process in PROCESSES:
        assert re.search(rf"\b{process}\b", page), process
