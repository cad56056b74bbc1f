"""URL images that cannot be turned inward: DNS rebinding, redirects inwards and without end, a server
that drips its answer, proxy variables. "The internet" is played in-process: a resolver we control
(``socket.getaddrinfo``) and routes from made-up public addresses to loopback servers
(``socket.create_connection``); every real socket is on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import io
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from vlrerank import EngineConfig, ImageLoadError, InputError, Reranker
from vlrerank.inputs.images import ImageLimits
from vlrerank.preprocess.hygiene import decode

from ..conftest import noise_image

PUBLIC = "93.184.216.34"
FIELD = "documents[0].image"
Handler = http.server.BaseHTTPRequestHandler


def png() -> bytes:
    buffer = io.BytesIO()
    noise_image(32, 24, 3).save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def loopback_server(respond: Callable[[Handler], None]) -> Iterator[tuple[int, list]]:
    """A real HTTP server on 127.0.0.1; yields its port and the (path, Host header) of each request."""
    hits: list[tuple[str, str | None]] = []

    class Recording(Handler):
        def do_GET(self):
            hits.append((self.path, self.headers.get("Host")))
            with contextlib.suppress(OSError):  # the client hung up (as it should, for slow servers)
                respond(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


class Internet:
    """DNS answers for made-up names (each lookup takes the next answer; the last one repeats) and
    routes from public addresses to loopback ports. Unrouted public addresses refuse connections."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dns: dict[str, list[str]] = {}
        self.routes: dict[tuple[str, int], int] = {}
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []
        real_resolve, real_connect = socket.getaddrinfo, socket.create_connection

        def resolve(host, port, *args, **kwargs):
            if host not in self.dns:
                return real_resolve(host, port, *args, **kwargs)
            self.lookups.append(host)
            answers = self.dns[host]
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        def connect(address, *args, **kwargs):
            host, port = address[0], address[1]
            self.connects.append((host, port))
            if (host, port) in self.routes:
                return real_connect(("127.0.0.1", self.routes[host, port]), *args, **kwargs)
            if ipaddress.ip_address(host).is_global:
                raise ConnectionRefusedError(f"{host} is unreachable from the tests")
            return real_connect(address, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        monkeypatch.setattr(socket, "create_connection", connect)


@pytest.fixture
def internet(monkeypatch) -> Internet:
    return Internet(monkeypatch)


def send_image(handler) -> None:
    body = png()
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_the_checked_address_is_the_one_fetched_with_the_host_name_kept(internet):
    with loopback_server(send_image) as (port, hits):
        internet.dns["images.example"] = [PUBLIC]
        internet.routes[PUBLIC, 80] = port
        image = decode("http://images.example/cat.png", field=FIELD, limits=ImageLimits(allow_urls=True))
    assert image.image.size == (32, 24)
    assert hits == [("/cat.png", "images.example")] and internet.connects == [(PUBLIC, 80)]


def test_dns_rebinding_cannot_reach_loopback(internet, tiny_dir):
    """The resolver answers a public address first and 127.0.0.1 afterwards: the fetch goes to the
    address that was checked (unreachable here), never to the loopback server."""
    with loopback_server(send_image) as (port, hits):
        internet.dns["rebind.example"] = [PUBLIC, "127.0.0.1"]
        reranker = Reranker(str(tiny_dir), config=EngineConfig(allow_urls=True))
        with pytest.raises(ImageLoadError, match="could not fetch") as info:
            reranker.rank("q", [{"image": f"http://rebind.example:{port}/cat.png"}])
    assert hits == [] and internet.lookups == ["rebind.example"]
    assert internet.connects == [(PUBLIC, port)] and info.value.field.startswith("documents[0]")


def test_public_looking_url_redirecting_inwards_is_refused_before_connecting(internet):
    with loopback_server(send_image) as (secret_port, secret_hits):

        def redirect(handler):
            handler.send_response(302)
            handler.send_header("Location", f"http://127.0.0.1:{secret_port}/secret")
            handler.end_headers()

        with loopback_server(redirect) as (port, _):
            internet.dns["public.example"] = [PUBLIC]
            internet.routes[PUBLIC, 80] = port
            with pytest.raises(InputError, match="not a public address"):
                decode("http://public.example/cat.png", field=FIELD, limits=ImageLimits(allow_urls=True))
    assert secret_hits == [] and ("127.0.0.1", secret_port) not in internet.connects


def test_redirects_are_capped(internet):
    def again(handler):
        handler.send_response(302)
        handler.send_header("Location", f"/hop{len(hits)}")
        handler.end_headers()

    with loopback_server(again) as (port, hits):
        internet.dns["loop.example"] = [PUBLIC]
        internet.routes[PUBLIC, 80] = port
        with pytest.raises(ImageLoadError, match="more than 5 redirects"):
            decode("http://loop.example/start", field=FIELD, limits=ImageLimits(allow_urls=True))
    assert len(hits) == 6  # the first request and five redirects, no more


def drip_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(80):  # bounded: 8 s at most, whatever the client does
        handler.wfile.write(b"\x89")
        handler.wfile.flush()
        time.sleep(0.1)


def drip_headers(handler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 78:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.1)


@pytest.mark.parametrize("respond", [drip_body, drip_headers], ids=["body", "headers"])
def test_one_deadline_for_the_whole_fetch(respond):
    """Each byte arrives well within a per-read timeout; the whole answer never does. The fetch ends at
    the deadline (1 s) instead of holding a worker for as long as the server likes."""
    limits = ImageLimits(allow_urls=True, allow_private_urls=True, url_timeout_s=1.0)
    with loopback_server(respond) as (port, hits):
        start = time.monotonic()
        with pytest.raises(ImageLoadError, match="took longer than the 1 s limit"):
            decode(f"http://127.0.0.1:{port}/slow.png", field=FIELD, limits=limits)
        elapsed = time.monotonic() - start
    assert len(hits) == 1 and 0.9 < elapsed < 2.5, elapsed


def test_proxy_variables_are_ignored(monkeypatch):
    with loopback_server(send_image) as (proxy_port, proxy_hits), loopback_server(send_image) as (port, hits):
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        limits = ImageLimits(allow_urls=True, allow_private_urls=True)
        decode(f"http://127.0.0.1:{port}/cat.png", field=FIELD, limits=limits)
    assert proxy_hits == [] and len(hits) == 1


def test_byte_cap_applies_to_urls():
    limits = ImageLimits(allow_urls=True, allow_private_urls=True, max_bytes=100)
    with loopback_server(send_image) as (port, _), pytest.raises(ImageLoadError, match="larger than 100"):
        decode(f"http://127.0.0.1:{port}/cat.png", field=FIELD, limits=limits)
