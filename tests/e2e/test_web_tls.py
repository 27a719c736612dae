"""Real clients against --web.config.file: Prometheus scrapes over TLS with basic auth and over mTLS,
Alertmanager delivers the webhook over TLS, curl and openssl show the refusals, and rotated
certificates and passwords apply without a restart. Certificates are made per test."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from exporter.soda.ratelimit import reset_buckets
from tests.binaries import require_binary
from tests.support.builders import incident, make_org, sim_env
from tests.support.http import free_port, samples
from tests.support.monitoring_stack import Processes, PrometheusAPI
from tests.support.tls import (
    Pki,
    bcrypt_hash,
    handshake_in_memory,
    make_pki,
    tls_server_config,
    write_web_config,
)
from tests.support.waiting import wait_for, wait_until

PASSWORD = "scrape-password-81c2"
TOKEN = "e2e-webhook-token-5d0e27b4"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


def curl(url: str, *args: str) -> tuple[int, str, str]:
    """Run curl; (exit code, HTTP status or '000', stderr)."""
    curl_bin = require_binary("curl")
    done = subprocess.run(
        [curl_bin, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", *args, url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout.strip(), done.stderr


def s_client(port: int, *args: str) -> tuple[int, str]:
    """``openssl s_client`` sending ``GET /healthz`` (HTTP/1.0, so the server closes); (exit code, output)."""
    openssl = require_binary("openssl")
    done = subprocess.run(
        [openssl, "s_client", "-ign_eof", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args],
        input="GET /healthz HTTP/1.0\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, done.stdout + done.stderr


def web_exporter(
    start_exporter: Callable[..., Exporter], sim: SimulatorServer, path: Path, *argv: str, **env: str
) -> Exporter:
    exporter = start_exporter(sim, "--web.config.file", str(path), *argv, env=sim_env(sim, **env))
    assert exporter.state.wait_ready(20)
    return exporter


@pytest.mark.slow
def test_prometheus_scrapes_over_tls_with_basic_auth_and_over_mtls(
    simulator: SimulatorServer,
    start_exporter: Callable[..., Exporter],
    children: Processes,
    pki: Pki,
    tmp_path: Path,
) -> None:
    prometheus = require_binary("prometheus")
    basic_config = {
        "tls_server_config": tls_server_config(pki),
        "basic_auth_users": {"prometheus": bcrypt_hash(PASSWORD)},
    }
    basic = web_exporter(start_exporter, simulator, write_web_config(tmp_path / "basic.yml", basic_config))
    mtls_tls = tls_server_config(
        pki,
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.ca_file),
        client_allowed_sans=[pki.client_san],
    )
    mtls_config = {"tls_server_config": mtls_tls}
    mtls = web_exporter(start_exporter, simulator, write_web_config(tmp_path / "mtls.yml", mtls_config))
    (tmp_path / "password").write_text(PASSWORD)
    (tmp_path / "wrong-password").write_text("not-the-password")
    ca = {"ca_file": str(pki.ca_file)}
    client_cert = {**ca, "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)}

    def job(name: str, port: int, **extra: Any) -> dict[str, Any]:
        return {
            "job_name": name,
            "scheme": "https",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            **extra,
        }

    auth = {"username": "prometheus", "password_file": str(tmp_path / "password")}
    wrong = {"username": "prometheus", "password_file": str(tmp_path / "wrong-password")}
    scrape_configs = [
        job("tls-basic", basic.port, tls_config=ca, basic_auth=auth),
        job("tls-basic-wrong-password", basic.port, tls_config=ca, basic_auth=wrong),
        job("mtls", mtls.port, tls_config=client_cert),
        job("mtls-no-client-cert", mtls.port, tls_config=ca),
    ]
    document = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": scrape_configs}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(document))
    prom_port = free_port()
    children.start(
        "prometheus",
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
    )
    api = PrometheusAPI(f"http://127.0.0.1:{prom_port}")

    def up_of_every_job() -> dict[str, str] | None:
        found = {s["metric"]["job"]: s["value"][1] for s in api.series("up")}
        return found if len(found) == 4 else None

    wait_for("every job to be scraped once", up_of_every_job, 60, children.logs)
    wanted = {"tls-basic": "1", "mtls": "1", "tls-basic-wrong-password": "0", "mtls-no-client-cert": "0"}
    wait_for("the scrapes to settle", lambda: up_of_every_job() == wanted, 30, children.logs)
    assert {s["metric"]["job"] for s in api.series("soda_up == 1")} == {"tls-basic", "mtls"}
    failures = samples(
        requests.get(
            f"https://127.0.0.1:{basic.port}/metrics",
            verify=str(pki.ca_file),
            auth=("prometheus", PASSWORD),
            timeout=10,
        ).text
    )
    assert failures[("soda_exporter_web_auth_failures_total", (("reason", "wrong_password"),))] >= 1


def test_alertmanager_delivers_the_webhook_over_tls_with_basic_auth(
    start_simulator: Callable[..., SimulatorServer],
    start_exporter: Callable[..., Exporter],
    children: Processes,
    pki: Pki,
    tmp_path: Path,
) -> None:
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager")
    reset_buckets()
    sim = start_simulator(make_org([incident(1, severity="major")]))
    config = {
        "tls_server_config": tls_server_config(pki),
        "basic_auth_users": {"alertmanager": bcrypt_hash(TOKEN)},
    }
    exporter = web_exporter(
        start_exporter,
        sim,
        write_web_config(tmp_path / "web.yml", config),
        "--webhook.enable",
        SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN,
    )
    (tmp_path / "token").write_text(TOKEN)
    am_port = free_port()
    receiver = {
        "url": f"https://127.0.0.1:{exporter.port}/alertmanager/webhook",
        "send_resolved": False,
        "http_config": {
            "basic_auth": {"username": "alertmanager", "password_file": str(tmp_path / "token")},
            "tls_config": {"ca_file": str(pki.ca_file)},
        },
    }
    route = {"receiver": "soda", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump({"route": route, "receivers": [{"name": "soda", "webhook_configs": [receiver]}]})
    )
    children.alertmanager(alertmanager, tmp_path / "alertmanager.yml", am_port)
    alert = {
        "labels": {
            "alertname": "SodaIncidentUnattended",
            "soda_action": "escalate",
            "soda_incident_id": "inc-0001",
        }
    }

    def posted() -> bool:
        reply = requests.post(f"http://127.0.0.1:{am_port}/api/v2/alerts", json=[alert], timeout=5)
        return reply.status_code == 200

    wait_for("Alertmanager to take the alert", posted, 30, children.logs)
    wait_for(
        "the escalation to reach Soda through the TLS webhook",
        lambda: [u for u in sim.updates if u.incident_id == "inc-0001"],
        45,
        children.logs,
    )
    assert [u.fields for u in sim.updates] == [{"severity": "critical"}]


def test_curl_and_openssl_show_the_refusals(
    simulator: SimulatorServer, start_exporter: Callable[..., Exporter], pki: Pki, tmp_path: Path
) -> None:
    cacert = ["--cacert", str(pki.ca_file)]
    basic_config = {
        "tls_server_config": tls_server_config(pki, min_version="TLS12"),
        "basic_auth_users": {"prometheus": bcrypt_hash(PASSWORD)},
        "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff"}},
    }
    basic = web_exporter(start_exporter, simulator, write_web_config(tmp_path / "basic.yml", basic_config))
    base = f"https://127.0.0.1:{basic.port}"
    got = curl(f"{base}/metrics", *cacert, "-u", f"prometheus:{PASSWORD}")
    assert got[:2] == (0, "200"), got
    assert curl(f"{base}/metrics", *cacert, "-u", "prometheus:wrong")[:2] == (0, "401")
    assert curl(f"{base}/metrics", *cacert, "-u", f"nobody:{PASSWORD}")[:2] == (0, "401")
    for path in ("/metrics", "/", "/healthz", "/readyz"):  # every endpoint is protected
        assert curl(f"{base}{path}", *cacert)[:2] == (0, "401"), path
    head = subprocess.run(
        [
            require_binary("curl"),
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            *cacert,
            "-u",
            "prometheus:wrong",
            f"{base}/healthz",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert re.search(r"(?im)^www-authenticate: Basic realm=", head), head
    assert re.search(r"(?im)^x-content-type-options: nosniff", head), head
    assert curl(f"http://127.0.0.1:{basic.port}/metrics")[1] != "200"  # plain HTTP gets no metrics

    # TLS 1.1 is refused by the server: this client can speak it (security level 0), as the control shows.
    code, old = s_client(basic.port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert code != 0 and "Cipher is (NONE)" in old, old
    tls11_config = {"tls_server_config": tls_server_config(pki, min_version="TLS11")}
    tls11 = web_exporter(start_exporter, simulator, write_web_config(tmp_path / "tls11.yml", tls11_config))
    code, accepted = s_client(
        tls11.port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(pki.ca_file)
    )
    assert code == 0 and re.search(r"Protocol\s*:\s*TLSv1\.1", accepted) and "HTTP/1.1 200" in accepted, (
        accepted
    )

    mtls_config = {
        "tls_server_config": tls_server_config(
            pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.ca_file)
        )
    }
    mtls = web_exporter(start_exporter, simulator, write_web_config(tmp_path / "mtls.yml", mtls_config))
    url = f"https://127.0.0.1:{mtls.port}/metrics"
    code, status, err = curl(url, *cacert)
    assert code != 0 and status == "000", (code, status, err)  # the handshake fails, no HTTP at all
    ca_file = ("-CAfile", str(pki.ca_file))
    client = ("-cert", str(pki.client_cert), "-key", str(pki.client_key))
    for version in ("-tls1_2", "-tls1_3"):
        code, out = s_client(mtls.port, *ca_file, version)
        assert code != 0 and "HTTP/1.1" not in out, out  # the handshake fails: no certificate
        code, out = s_client(mtls.port, *ca_file, version, *client)
        assert code == 0 and "HTTP/1.1 200" in out, out
    foreign_cert, foreign_key = pki.foreign_client()
    assert curl(url, *cacert, "--cert", str(foreign_cert), "--key", str(foreign_key))[1] == "000"
    assert curl(url, *cacert, "--cert", str(pki.client_cert), "--key", str(pki.client_key))[:2] == (0, "200")


def test_the_webhook_takes_its_bearer_token_over_mtls(
    simulator: SimulatorServer, start_exporter: Callable[..., Exporter], pki: Pki, tmp_path: Path
) -> None:
    tls = tls_server_config(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.ca_file)
    )
    exporter = web_exporter(
        start_exporter,
        simulator,
        write_web_config(tmp_path / "mtls.yml", {"tls_server_config": tls}),
        "--webhook.enable",
        SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN,
    )
    url = f"https://127.0.0.1:{exporter.port}/alertmanager/webhook"
    client = ["--cacert", str(pki.ca_file), "--cert", str(pki.client_cert), "--key", str(pki.client_key)]
    body = ["-H", "Content-Type: application/json", "--data", json.dumps({"version": "4", "alerts": []})]
    assert curl(url, *client, *body, "-H", f"Authorization: Bearer {TOKEN}")[:2] == (0, "200")
    assert curl(url, *client, *body, "-H", "Authorization: Bearer wrong-token-wrong-token")[:2] == (0, "401")


def served_certificate(port: int, pki: Pki) -> str:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return ssl.DER_cert_to_PEM_cert(der)


@pytest.mark.slow
def test_rotated_certificate_and_password_apply_without_restart(
    simulator: SimulatorServer, start_exporter: Callable[..., Exporter], pki: Pki, tmp_path: Path
) -> None:
    cacert = ["--cacert", str(pki.ca_file)]
    path = tmp_path / "web.yml"
    config = {
        "tls_server_config": tls_server_config(pki),
        "basic_auth_users": {"prometheus": bcrypt_hash(PASSWORD)},
    }
    exporter = web_exporter(start_exporter, simulator, write_web_config(path, config))
    base = f"https://127.0.0.1:{exporter.port}/metrics"
    first = served_certificate(exporter.port, pki)
    assert curl(base, *cacert, "-u", f"prometheus:{PASSWORD}")[:2] == (0, "200")

    pki.rotate_server()
    write_web_config(path, {**config, "basic_auth_users": {"prometheus": bcrypt_hash("rotated-password")}})
    wait_until(lambda: curl(base, *cacert, "-u", "prometheus:rotated-password")[1] == "200", timeout=15)
    assert curl(base, *cacert, "-u", f"prometheus:{PASSWORD}")[:2] == (0, "401")
    second = served_certificate(exporter.port, pki)
    assert second != first and second.strip() in pki.server_cert.read_text()

    # A broken new version: the last good one stays in force, and the gauge says so.
    path.write_text("basic_auth_users: {prometheus: not-a-hash}\n")
    gauge = ("soda_exporter_web_config_last_reload_successful", ())

    def reload_failed() -> bool:
        reply = requests.get(
            base, verify=str(pki.ca_file), auth=("prometheus", "rotated-password"), timeout=10
        )
        return reply.status_code == 200 and samples(reply.text)[gauge] == 0

    wait_until(reload_failed, timeout=15)
    time.sleep(1.5)  # the behaviour under test: the last good file stays in force while time passes
    assert curl(base, *cacert, "-u", "prometheus:rotated-password")[:2] == (0, "200")


def request_with_the_last_handshake_flight(
    port: int, pki: Pki, cert: tuple[Path, Path] | None
) -> tuple[bytes, bytes]:
    """Send the request in the same segment as the client's Finished; (raw bytes received, decrypted)."""
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        tls, incoming, outgoing = handshake_in_memory(sock, context)
        tls.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.sendall(outgoing.read())
        raw = b""
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    incoming.write(raw)
    plain = b""
    with contextlib.suppress(ssl.SSLError):
        while chunk := tls.read(65536):
            plain += chunk
    return raw, plain


@pytest.mark.slow
def test_a_request_riding_with_the_handshake_is_answered_over_tls_after_the_peer_check(
    simulator: SimulatorServer, start_exporter: Callable[..., Exporter], pki: Pki, tmp_path: Path
) -> None:
    tls = tls_server_config(
        pki,
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.ca_file),
        client_allowed_sans=[pki.client_san],
    )
    exporter = web_exporter(
        start_exporter, simulator, write_web_config(tmp_path / "web.yml", {"tls_server_config": tls})
    )
    for _ in range(3):
        raw, plain = request_with_the_last_handshake_flight(
            exporter.port, pki, (pki.client_cert, pki.client_key)
        )
        assert not raw.startswith(b"HTTP/"), raw[:60]  # never plain text on a TLS connection
        assert plain.startswith(b"HTTP/1.1 200 "), plain[:60]
    other = pki.client("other.example.com", "other")  # same CA, a SAN not on the list
    for _ in range(3):
        raw, plain = request_with_the_last_handshake_flight(exporter.port, pki, other)
        assert b"HTTP/" not in raw + plain
    text = requests.get(
        f"https://127.0.0.1:{exporter.port}/metrics",
        verify=str(pki.ca_file),
        cert=(str(pki.client_cert), str(pki.client_key)),
        timeout=10,
    ).text
    assert samples(text)[("soda_exporter_web_auth_failures_total", (("reason", "client_certificate"),))] == 3
