"""Privacy and hardening of the dashboard server (.streamlit/config.toml).

The server is started as a user starts it (``streamlit run app.py``, the project's config, no
command-line overrides) under a network monitor: a ``sitecustomize`` module that records, and
refuses, every attempt of the server process to reach an address other than this computer (TCP
or UDP connect, datagrams, name look-ups of other hosts). A real browser then loads the page and
every request it makes is recorded too. Nothing may leave the machine, the server may listen on
127.0.0.1 only, and a user never sees tracebacks.
"""
from __future__ import annotations

import json
import re
import textwrap
import tomllib
from pathlib import Path

import pytest
from browser_support import ROOT, launch, settled, streamlit_server
from playwright import sync_api

MONITOR = textwrap.dedent('''
    """Record and refuse network access from this process to anything but this computer."""
    import ipaddress, json, os, socket, traceback

    _LOG = os.environ["NETWORK_MONITOR_LOG"]
    _LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}

    def _local(host):
        host = str(host).strip("[]")
        if host in _LOCAL_NAMES:
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def _refuse(what, host):
        with open(_LOG, "a") as f:
            f.write(json.dumps({"what": what, "host": str(host),
                                "stack": traceback.format_stack(limit=8)}) + "\\n")
        raise OSError(f"network monitor: {what} to {host} refused")

    def _check(sock, address, what):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not _local(address[0]):
                _refuse(what, address[0])

    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
    _sendto, _getaddrinfo = socket.socket.sendto, socket.getaddrinfo

    def connect(self, address):
        _check(self, address, "connect")
        return _connect(self, address)

    def connect_ex(self, address):
        _check(self, address, "connect")
        return _connect_ex(self, address)

    def sendto(self, data, *args):
        _check(self, args[-1], "sendto")
        return _sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _local(host.decode() if isinstance(host, bytes) else host):
            _refuse("name look-up", host)
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.socket.sendto, socket.getaddrinfo = sendto, getaddrinfo
''')


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, hex_port = address.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(host)
    return found


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """The dashboard under the network monitor, loaded once in chromium.

    Yields the server's requests refused, the browser's requests to other hosts, the listening
    addresses and the server's log.
    """
    folder = tmp_path_factory.mktemp("monitor")
    (folder / "sitecustomize.py").write_text(MONITOR)
    log = folder / "network.jsonl"
    log.touch()
    env = {"PYTHONPATH": str(folder), "NETWORK_MONITOR_LOG": str(log)}
    with streamlit_server(env=env) as (url, server_log, _):
        port = int(url.rsplit(":", 1)[1])
        listening = listening_addresses(port)
        outside = []
        with sync_api.sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page()
                page.on("request", lambda r: None if re.match(
                    r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", r.url)
                    or r.url.startswith(("data:", "blob:", "about:")) else outside.append(r.url))
                page.goto(url, wait_until="domcontentloaded")
                page.get_by_test_id("verdict").wait_for(timeout=180_000)
                settled(page)
                page.wait_for_timeout(2_000)  # anything the page does a little later
            finally:
                browser.close()
        refused = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        yield dict(refused=refused, outside=outside, listening=listening,
                   log=server_log.read_text())


def test_the_server_makes_no_outbound_request(monitored):
    refused = monitored["refused"]
    assert not refused, "the server tried to reach the network:\n" + "\n".join(
        f"{r['what']} {r['host']}\n{''.join(r['stack'])}" for r in refused)
    # no public-IP look-up, so no "External URL" (nor a LAN "Network URL") is printed
    assert "External URL" not in monitored["log"] and "Network URL" not in monitored["log"]


def test_the_page_requests_nothing_from_other_hosts(monitored):
    assert not monitored["outside"], monitored["outside"]


def test_the_server_listens_on_this_computer_only(monitored):
    # /proc/net/tcp writes 127.0.0.1 as 0100007F; a wildcard listener would be 00000000 or ::
    assert monitored["listening"] == {"0100007F"}, monitored["listening"]


def test_config_keeps_answers_private_and_errors_plain():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] in ("none", False)
    assert config["client"]["showErrorLinks"] is False
