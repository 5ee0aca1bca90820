"""The one way Switchboard talks to the outside world: an httpx2 client on a guarded transport.

Every client we build — verification, discovery, and the openai / anthropic SDKs, which
take it as `http_client` — sends through GuardedTransport, so a chat request is checked
exactly like a verify:

- https only, unless the provider allows its private network (Ollama on localhost);
- the host is resolved when the connection is opened, every address it resolves to is
  checked, and the socket goes to a checked address — so a DNS answer that changes
  between a check and the connect (rebinding) cannot slip through;
- loopback, private, shared (CGNAT), unspecified addresses and their IPv4-mapped / 6to4 /
  NAT64 forms are refused unless the provider allows its private network; link-local
  addresses, cloud metadata hosts and non-unicast addresses are refused always;
- redirects are not followed, proxies from the environment are ignored (a proxy would
  hide the real destination), and timeouts are bounded.

A refusal raises RefusedAddressError, whose user_message names the host and the reason.
A response is read within bounds: a server-sent event may not pass MAX_EVENT_BYTES, a
whole body MAX_BODY_BYTES, or OversizedResponseError ends it.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import anyio
import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# Connect fast or not at all; reads may wait for a slow first token.
DEFAULT_TIMEOUT = httpx2.Timeout(60.0, connect=5.0)

# Cloud instance metadata services: refused by name and by address, whatever the provider
# allows. AWS (IPv4, IPv6, ECS task metadata), GCP, Azure (IMDS and WireServer), Alibaba,
# Oracle (169.254.169.254 as well).
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "168.63.129.16",
        "100.100.100.200",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
# httpx's own defaults, spelled out because this transport builds its pool itself.
LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class RefusedAddressError(Exception):
    """The destination is not one this provider may be sent to."""

    def __init__(self, host: str, reason: str, address: IPAddress | None = None) -> None:
        self.host = host
        self.reason = reason
        self.address = address
        shown = f"[{host}]" if ":" in host else host
        where = shown if address is None or str(address) == host else f"{shown} ({address})"
        self.user_message = f"Refused to connect to {where}: {reason}."
        super().__init__(self.user_message)


def refusal_reason(address: IPAddress, *, allow_private_network: bool) -> str:
    """Why `address` may not be connected to; "" when it may."""
    address = _embedded_ipv4(address) or address
    if address in METADATA_ADDRESSES:
        return "it is a cloud metadata address, which is never allowed"
    if address.is_link_local:
        return "it is a link-local address, which is never allowed"
    # Python counts all of ::/8 as reserved, "::" and "::1" among them.
    reserved = address.is_reserved and not (address.is_unspecified or address.is_loopback)
    if address.is_multicast or address == _BROADCAST or reserved:
        return "it is not a unicast address"
    if address.is_global or allow_private_network:
        return ""
    if address.is_loopback:
        kind = "a loopback address"
    elif address.is_unspecified:
        kind = "an unspecified address"
    else:
        kind = "a private address"
    return f"it is {kind}; turn on “Allow private network” for servers on your own network"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (::ffff:a.b.c.d, 2002:… 6to4, 64:ff9b::/96)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (literals parse as themselves).

    getaddrinfo also reads the decimal, octal and hex IPv4 forms ("2130706433",
    "0177.0.0.1", "0x7f.1"), so those are checked as the address they really are.
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise httpcore2.ConnectError(f"could not resolve {host}: {error.strerror}") from None
    # The scope id ("fe80::1%eth0") is not part of the address to check.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked address, never the name."""

    def __init__(self, *, allow_private_network: bool, resolver: Resolver = resolve) -> None:
        self._allow_private_network = allow_private_network
        self._resolve = resolver
        self._backend = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if host.lower().rstrip(".") in METADATA_HOSTS:
            raise RefusedAddressError(host, "it is a cloud metadata host, which is never allowed")
        with anyio.move_on_after(timeout) as deadline:
            addresses = await self._resolve(host, port)
        if deadline.cancelled_caught:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out")
        for address in addresses:
            reason = refusal_reason(address, allow_private_network=self._allow_private_network)
            if reason:
                raise RefusedAddressError(host, reason, address)
        last_error: Exception = httpcore2.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as error:
                last_error = error
        raise last_error

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


# The SDKs' SSE decoders buffer a line, and an event, with no bound at all (openai's
# _streaming.py says so): an upstream that never ends one fills the memory while bytes keep
# arriving, so no read timeout fires. A real event is well under a KiB; a real body that
# is not streamed (a long model list) a few MiB.
MAX_EVENT_BYTES = 1024 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024


class OversizedResponseError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class _BoundedStream(httpx2.AsyncByteStream):
    """The response body as it arrives, refused past its bound."""

    def __init__(self, stream: httpx2.AsyncByteStream, *, events: bool) -> None:
        self._stream = stream
        self._events = events
        self._pending = 0  # bytes since the last event ended (or since the body began)
        self._last = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._count(chunk)
            yield chunk

    def _count(self, chunk: bytes) -> None:
        if not self._events:
            self._pending += len(chunk)
            if self._pending > MAX_BODY_BYTES:
                raise OversizedResponseError(
                    f"The response passed {MAX_BODY_BYTES // 2**20} MiB; it was not read further."
                )
            return
        # An event ends at a blank line, whichever line ends the server uses.
        lines = self._last + chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = lines.rfind(b"\n\n")
        self._pending = len(lines) - end - 2 if end >= 0 else self._pending + len(chunk)
        self._last = lines[-1:]
        if self._pending > MAX_EVENT_BYTES:
            raise OversizedResponseError(
                f"An event in the stream passed {MAX_EVENT_BYTES // 2**20} MiB without ending; "
                "it was not read further."
            )

    async def aclose(self) -> None:
        await self._stream.aclose()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One context for every client: loading the CA store takes ~30 ms, which each new
    client paid twice (httpx2's pool and ours), and a runner is built per provider
    change. A context is safe to share: it is only read once set up."""
    return httpx2.create_ssl_context(trust_env=False)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, *, allow_private_network: bool, resolver: Resolver = resolve) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False, limits=LIMITS)
        self._allow_private_network = allow_private_network
        # httpx2 builds its pool on the default backend; this one differs only in the backend.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=GuardedBackend(
                allow_private_network=allow_private_network, resolver=resolver
            ),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme != "https" and not self._allow_private_network:
            raise RefusedAddressError(
                request.url.host,
                "plain http:// is allowed only for providers with “Allow private network”",
            )
        response = await super().handle_async_request(request)
        events = response.headers.get("content-type", "").startswith("text/event-stream")
        response.stream = _BoundedStream(response.stream, events=events)
        return response


def build_client(
    *,
    allow_private_network: bool,
    timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
    resolver: Resolver = resolve,
) -> httpx2.AsyncClient:
    """The client every outbound caller uses (the SDKs take it as `http_client`)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(allow_private_network=allow_private_network, resolver=resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


def literal_refusal(host: str, *, allow_private_network: bool) -> str:
    """Why a URL's host is refused before any lookup: a metadata name or a literal address.

    For early feedback when a URL is saved; names that resolve are judged at connect time.
    """
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return "it is a cloud metadata host, which is never allowed"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return ""
    return refusal_reason(address, allow_private_network=allow_private_network)
