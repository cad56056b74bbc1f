"""Fetching an ``http(s)`` image so that the request cannot be turned inward.

- The host is resolved **once**; every address is checked, and the connection goes to the address
  that was checked (pinned), with the ``Host`` header and TLS SNI/certificate check kept on the name.
  A resolver that answers a public address for the check and 127.0.0.1 for the fetch (DNS rebinding)
  therefore gains nothing: there is no second lookup.
- Redirects are followed by hand, at most ``max_redirects``, each target resolved, checked and
  pinned the same way before anything connects to it.
- One deadline covers the whole fetch, every hop included: a watchdog shuts the socket when it
  passes, so a server that drips one byte at a time cannot hold a worker past ``url_timeout_s``.
- Proxy variables (``http_proxy``...) are ignored: a proxy would do its own, unchecked, lookup.

Built on the standard library's ``http.client``: the core package has no HTTP dependency, and neither
``urllib`` (resolves again, follows proxies) nor ``safehttpx`` (async, resolves through a public DNS
service, no redirects) can pin a checked address for a synchronous caller.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING

from ..errors import ImageLoadError, InputError

if TYPE_CHECKING:
    from .images import ImageLimits

_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


class _Target:
    """A URL with its host resolved and checked: where to connect, what to call the host."""

    def __init__(self, url: str, field: str, limits: ImageLimits) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InputError(f"only http(s) URLs are fetched, got {url[:60]!r}", field=field)
        try:
            self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"invalid port in {url[:60]!r}", field=field) from None
        self.url, self.https, self.host = url, parsed.scheme == "https", parsed.hostname
        self.path = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise ImageLoadError(f"could not resolve {self.host}: {exc}", field=field) from None
        addresses = [str(info[4][0]).split("%")[0] for info in infos]
        if not addresses:
            raise ImageLoadError(f"could not resolve {self.host}: no address", field=field)
        if not limits.allow_private_urls:
            for text in addresses:
                address = ipaddress.ip_address(text)
                if not address.is_global or address.is_multicast:
                    raise InputError(
                        f"{self.host} resolves to {address}, which is not a public address; "
                        "only public addresses are fetched",
                        field=field,
                    )
        self.address = addresses[0]


class _Pinned(http.client.HTTPConnection):
    """An HTTP(S) connection to a fixed address, whatever the host name resolves to by now."""

    def __init__(self, target: _Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target
        self.expired = False
        # Our own reference: http.client drops ``self.sock`` once a response says it will close the
        # connection, while that response still reads from the socket.
        self.socket: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self.target.address, self.target.port), self.timeout)
        if self.target.https:
            # Certificate and SNI for the name in the URL, not for the address we connect to.
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.target.host)
        self.sock = self.socket = sock
        if self.expired:  # the deadline passed while connecting
            self.abort()

    def abort(self) -> None:
        """Called by the watchdog thread: unblocks whatever the fetching thread waits on."""
        self.expired = True
        if self.socket is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to unblock
                self.socket.shutdown(socket.SHUT_RDWR)


def fetch(url: str, field: str, limits: ImageLimits) -> bytes:
    """The body of ``url`` (following checked redirects), within the byte cap and the deadline.

    Raises:
        InputError: not http(s), or a host (first or redirected) that is not public.
        ImageLoadError: unreachable, an HTTP error, too many redirects, too large or too slow.
    """
    deadline = time.monotonic() + limits.url_timeout_s
    for _ in range(limits.max_redirects + 1):
        target = _Target(url, field, limits)
        status, location, data = _get(target, field, limits, deadline)
        if status in _REDIRECTS and location:
            url = urllib.parse.urljoin(url, location)
            continue
        if status != 200:
            raise ImageLoadError(f"could not fetch {target.url}: HTTP {status}", field=field)
        return data
    raise ImageLoadError(f"could not fetch {url}: more than {limits.max_redirects} redirects", field=field)


def _get(target: _Target, field: str, limits: ImageLimits, deadline: float) -> tuple[int, str | None, bytes]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _too_slow(target, field, limits)
    connection = _Pinned(target, timeout=remaining)
    watchdog = threading.Timer(remaining, connection.abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", target.path, headers={"Accept": "image/*", "User-Agent": "vlrerank"})
        response = connection.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location"), b""
        if response.status != 200:
            return response.status, None, b""
        data = bytearray()
        while len(data) <= limits.max_bytes:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            data += chunk
        if connection.expired:
            raise _too_slow(target, field, limits)
        if len(data) > limits.max_bytes:
            raise ImageLoadError(
                f"image at {target.url} is larger than {limits.max_bytes} bytes", field=field
            )
        return 200, None, bytes(data)
    except (OSError, http.client.HTTPException) as exc:
        if connection.expired:
            raise _too_slow(target, field, limits) from None
        raise ImageLoadError(f"could not fetch {target.url}: {exc}", field=field) from None
    finally:
        watchdog.cancel()
        connection.close()
        if connection.socket is not None:  # the response's socket, which close() may not reach
            connection.socket.close()


def _too_slow(target: _Target, field: str, limits: ImageLimits) -> ImageLoadError:
    return ImageLoadError(
        f"fetching {target.url} took longer than the {limits.url_timeout_s:g} s limit", field=field
    )
