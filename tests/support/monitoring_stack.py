"""Processes and helpers for the monitoring end-to-end test: simulator, exporter, Prometheus, Alertmanager."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

JOB = "soda-incidents-exporter"  # the scrape job of every test's prometheus.yml


def exporter_command() -> list[str]:
    """How to run the project's console script from the test's own interpreter environment."""
    script = shutil.which("soda-incidents-exporter", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "exporter.cli"]


@dataclass(frozen=True)
class Org:
    """One organisation of an exporter's --config.file: its name, simulator port and API key."""

    name: str
    port: int
    key_id: str
    key_secret: str

    @property
    def id_env(self) -> str:
        """The variable the config file names for the key id."""
        return f"{self.name.upper()}_KEY_ID"

    @property
    def secret_env(self) -> str:
        """The variable the config file names for the key secret."""
        return f"{self.name.upper()}_KEY_SECRET"


def write_organizations(path: Path, orgs: Sequence[Org]) -> dict[str, str]:
    """Write a --config.file naming every organisation; return the variables holding their keys."""
    entries = [
        {
            "name": org.name,
            "reporting_url": f"http://127.0.0.1:{org.port}/v1",
            "cloud_url": f"http://127.0.0.1:{org.port}",
            "api_key_id_env": org.id_env,
            "api_key_secret_env": org.secret_env,
        }
        for org in orgs
    ]
    path.write_text(yaml.safe_dump({"organizations": entries}, sort_keys=False), encoding="utf-8")
    env = {org.id_env: org.key_id for org in orgs}
    env.update({org.secret_env: org.key_secret for org in orgs})
    return env


def prometheus_config(
    rule_files: Sequence[str], am_port: int, targets: Sequence[str], **global_settings: str
) -> dict[str, Any]:
    """A prometheus.yml that scrapes ``targets`` and evaluates ``rule_files`` every second, alerting to a
    local Alertmanager on ``am_port``."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", **global_settings},
        "rule_files": list(rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "soda-incidents-exporter", "static_configs": [{"targets": list(targets)}]}
        ],
    }


class Processes:
    """Child processes started by a test, each logging to a file, all stopped together."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` with output to ``<log_dir>/<name>.log``."""
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.log_dir)
        log.close()
        self.started.append((name, proc))
        return proc

    def alertmanager(self, binary: str, config: Path, port: int) -> subprocess.Popen[bytes]:
        """Start a real Alertmanager on 127.0.0.1:``port``, alone (no cluster), storing under log_dir."""
        return self.start(
            "alertmanager",
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={self.log_dir / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
        )

    def prometheus(self, binary: str, config: Path, port: int) -> subprocess.Popen[bytes]:
        """Start a real Prometheus on 127.0.0.1:``port``, its TSDB under log_dir."""
        return self.start(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.log_dir / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
        )

    def logs(self) -> str:
        """The tail of every process log, for assertion messages."""
        parts = []
        for name, proc in self.started:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} (exit {proc.poll()}) ---\n{text[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate every process, killing those that do not exit within a few seconds."""
        for _, proc in reversed(self.started):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.started):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def http_ok(url: str) -> bool:
    """True when ``url`` answers 200."""
    return requests.get(url, timeout=2).status_code == 200


def tcp_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class PrometheusAPI:
    """The few calls of Prometheus' HTTP API the test makes."""

    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> dict[str, Any]:
        """Run an instant query; return the whole JSON reply (status "error" included)."""
        reply = requests.get(f"{self.base}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = reply.json()
        return body

    def series(self, expr: str) -> list[dict[str, Any]]:
        """The result vector of an instant query that must succeed."""
        body = self.query(expr)
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health."""
        reply = requests.get(f"{self.base}/api/v1/rules", timeout=10).json()
        return [rule for group in reply["data"]["groups"] for rule in group["rules"]]


class Webhook:
    """An HTTP listener that records the Alertmanager webhook notifications it receives."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            """Store each POSTed JSON body."""

            def do_POST(self) -> None:
                """Record a notification and answer 200."""
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self) -> Iterator[dict[str, Any]]:
        """Every alert of every notification received so far."""
        for notification in list(self.notifications):
            yield from notification.get("alerts", [])
