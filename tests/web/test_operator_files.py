"""The operator's files in ``config/`` name what really exists: the metrics
the alert rules watch are the ones ``/metrics`` serves, and the commands the
compose file and systemd units run are commands of ``reminders``."""

from __future__ import annotations

import re
from pathlib import Path

import requests
import yaml
from typer.main import get_command

from reminders.cli import app

from .conftest import Web

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_every_metric_in_the_alert_rules_is_served_on_metrics(web: Web) -> None:
    rules = yaml.safe_load((CONFIG / "prometheus" / "alerts.yaml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\breminders_[a-z_]+", expr)}
    served = requests.get(web.url + "/metrics", timeout=5).text
    declared = set(re.findall(r"^# TYPE (\S+) ", served, flags=re.MULTILINE))

    assert len(exprs) >= 5
    assert used, "the rules watch no metric of ours"
    assert used <= declared, f"not on /metrics: {sorted(used - declared)}"


def test_the_compose_file_and_units_run_real_commands() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    compose = yaml.safe_load((CONFIG / "compose.yaml").read_text())
    ran = [
        service["command"][1]
        for service in compose["services"].values()
        if service.get("command", [""])[0] == "reminders"
    ]
    units = sorted((CONFIG / "systemd").glob("*.service"))
    for unit in units:
        (start,) = re.findall(r"^ExecStart=\S*/reminders (\w+)", unit.read_text(), re.MULTILINE)
        ran.append(start)

    assert len(units) == 3
    assert sorted(set(ran)) == ["scheduler", "web", "worker"]
    assert set(ran) <= commands
