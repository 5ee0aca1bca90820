"""The guarded transport, against an SSRF corpus and the fake upstream on loopback."""

from __future__ import annotations

import ipaddress

import httpx2
import pytest

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.upstream.transport import IPAddress, RefusedAddressError, build_client, resolve

pytestmark = pytest.mark.anyio

# Names a DNS server would answer; the fake stands in for DNS, not for our code.
FAKE_DNS = {
    "internal.corp.example": ["10.1.2.3"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],  # one public, one loopback answer
    "metadata-alias.example": ["169.254.169.254"],
    "ipv6-private.example": ["fd12:3456::1"],
}


async def fake_dns(host: str, port: int) -> list[IPAddress]:
    if host in FAKE_DNS:
        return [ipaddress.ip_address(a) for a in FAKE_DNS[host]]
    return await resolve(host, port)


NEVER = "never allowed"
LOOPBACK = "it is a loopback address"
PRIVATE = "it is a private address"
UNSPECIFIED = "it is an unspecified address"

CORPUS = [
    ("http://api.openai.com/v1/models", "plain http:// is allowed only"),
    ("https://127.0.0.1/v1", LOOPBACK),
    ("https://localhost/v1", LOOPBACK),
    ("https://2130706433/", LOOPBACK),  # decimal
    ("https://017700000001/", LOOPBACK),  # octal, one number
    ("https://0x7f.0.0.1/", LOOPBACK),  # hex octet
    ("https://0x7f000001/", LOOPBACK),  # hex, one number
    ("https://127.1/", LOOPBACK),  # short form
    ("https://0.0.0.0/", UNSPECIFIED),
    ("https://[::]/", UNSPECIFIED),
    ("https://[::1]/", LOOPBACK),
    ("https://[::ffff:127.0.0.1]/", LOOPBACK),  # IPv4-mapped IPv6
    ("https://[::ffff:10.0.0.1]/", PRIVATE),
    ("https://[64:ff9b::7f00:1]/", LOOPBACK),  # NAT64
    ("https://[2002:7f00:1::]/", LOOPBACK),  # 6to4
    ("https://10.0.0.5/", PRIVATE),
    ("https://172.16.0.1/", PRIVATE),
    ("https://192.168.1.1/", PRIVATE),
    ("https://100.64.0.1/", PRIVATE),  # carrier-grade NAT
    ("https://[fc00::1]/", PRIVATE),
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata address, which is " + NEVER),
    ("https://[::ffff:169.254.169.254]/", "cloud metadata address"),
    ("https://[fd00:ec2::254]/", "cloud metadata address"),
    ("https://100.100.100.200/", "cloud metadata address"),
    (
        "https://metadata.google.internal/computeMetadata/v1/",
        "cloud metadata host, which is " + NEVER,
    ),
    ("https://METADATA.GOOGLE.INTERNAL./", "cloud metadata host"),
    ("https://169.254.10.20/", "link-local address, which is " + NEVER),
    ("https://[fe80::1]/", "link-local address"),
    ("https://224.0.0.1/", "not a unicast address"),
    ("https://internal.corp.example/v1", PRIVATE),  # a name resolving to a private address
    ("https://rebind.example/v1", LOOPBACK),  # every answer is checked, not just the first
    ("https://metadata-alias.example/", "cloud metadata address"),
    ("https://ipv6-private.example/", PRIVATE),
]


@pytest.mark.parametrize(("url", "reason"), CORPUS)
async def test_the_corpus_is_refused_with_its_reason(url: str, reason: str) -> None:
    async with build_client(allow_private_network=False, resolver=fake_dns) as client:
        with pytest.raises(RefusedAddressError) as refused:
            await client.get(url)

    assert reason in refused.value.user_message
    assert refused.value.user_message.startswith("Refused to connect to ")


def test_the_corpus_is_at_least_twenty_urls() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254/",
        "http://metadata.google.internal/",
        "http://[fe80::1]/",
        "http://metadata-alias.example/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
async def test_metadata_and_link_local_stay_refused_on_a_private_network(url: str) -> None:
    async with build_client(allow_private_network=True, resolver=fake_dns) as client:
        with pytest.raises(RefusedAddressError, match=NEVER + "|not a unicast"):
            await client.get(url)


async def test_a_private_network_provider_reaches_loopback(fake_upstream: FakeUpstream) -> None:
    async with build_client(allow_private_network=True) as client:
        response = await client.get(fake_upstream.base_url + "/models")

    assert response.status_code == 200
    assert len(fake_upstream.requests) == 1


async def test_without_private_network_the_fake_on_loopback_is_refused(
    fake_upstream: FakeUpstream,
) -> None:
    https_url = fake_upstream.base_url.replace("http://", "https://") + "/models"
    async with build_client(allow_private_network=False) as client:
        with pytest.raises(RefusedAddressError, match="plain http://"):
            await client.get(fake_upstream.base_url + "/models")
        with pytest.raises(RefusedAddressError, match=LOOPBACK):
            await client.get(https_url)

    assert fake_upstream.requests == []  # refused before a byte was sent


async def test_a_redirect_is_not_followed(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(redirect_to="http://169.254.169.254/latest/meta-data/"))

    async with build_client(allow_private_network=True) as client:
        response = await client.get(fake_upstream.base_url + "/models")

    assert response.status_code == 302
    assert len(fake_upstream.requests) == 1


async def test_a_redirect_to_metadata_is_refused_even_when_asked_to_follow(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.faults.append(Fault(redirect_to="http://169.254.169.254/latest/meta-data/"))

    async with build_client(allow_private_network=True) as client:
        with pytest.raises(RefusedAddressError, match="cloud metadata address"):
            await client.get(fake_upstream.base_url + "/models", follow_redirects=True)


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    async with build_client(allow_private_network=False) as client:
        with pytest.raises(httpx2.ConnectError, match="could not resolve"):
            await client.get("https://no-such-host.invalid/v1")


async def test_a_slow_upstream_times_out_within_the_bound(fake_upstream: FakeUpstream) -> None:
    silent = Gate()  # never opened: the client times out and hangs up first
    fake_upstream.faults.append(Fault(hold=silent))
    timeout = httpx2.Timeout(0.2, connect=0.2)

    async with build_client(allow_private_network=True, timeout=timeout) as client:
        with pytest.raises(httpx2.ReadTimeout):
            await client.get(fake_upstream.base_url + "/models")


async def test_proxy_variables_are_ignored(
    fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would be the only address checked, hiding where the request really goes.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

    async with build_client(allow_private_network=True) as client:
        response = await client.get(fake_upstream.base_url + "/models")

    assert response.status_code == 200
