"""What every protocol runner speaks, and what it may raise.

A runner talks to one provider over one wire protocol, through the official SDK on the
guarded transport (providers/upstream/transport.py). It gets plain values, never the ORM.

ProviderError                 .user_message: one sentence for people; never holds a key
├── AuthError                 401: key missing, wrong or revoked
│   └── ForbiddenError        403: the key may not do this
├── RateLimitError            429
├── BadRequestError           other 4xx: our payload
│   └── ModelNotFoundError    404: a model id the upstream lacks
├── UpstreamTimeoutError      connect or read timeout
├── UnavailableError          5xx, an error event mid-stream
│   └── UnreachableError      refused or reset connection, unknown host
├── DestinationRefusedError   the guarded transport refused the address
├── ConfigurationError        a stored value the runner cannot use (saved past the checks)
└── MalformedResponseError    body or stream not in the protocol's shape, or a redirect

Each class carries the `category` verification reports ("bad key", "rate limited", …).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import httpx2

from providers.errors import UserFacingError
from providers.keys.redaction import redact
from providers.upstream.transport import OversizedResponseError, RefusedAddressError


class ProviderError(UserFacingError):
    category = "unexpected response"
    user_message = "The provider answered in a way Switchboard did not expect."

    def __init__(self, *, detail: str = "", status: int | None = None) -> None:
        self.status = status
        # The detail is the upstream's, already redacted by the runner.
        super().__init__(detail=detail)


class AuthError(ProviderError):
    category = "bad key"
    user_message = "The provider rejected the API key."


class ForbiddenError(AuthError):
    category = "no permission"
    user_message = "The API key is not allowed to do this."


class RateLimitError(ProviderError):
    category = "rate limited"
    user_message = "The provider is rate limiting this key; try again shortly."


class BadRequestError(ProviderError):
    category = "unexpected response"
    user_message = "The provider refused the request."


class ModelNotFoundError(BadRequestError):
    category = "model not found"
    user_message = "The provider does not know this model."


class UpstreamTimeoutError(ProviderError):
    category = "timeout"
    user_message = "The provider did not answer in time."


class UnavailableError(ProviderError):
    category = "unexpected response"
    user_message = "The provider failed to answer; try again later."


class UnreachableError(UnavailableError):
    category = "network unreachable"
    user_message = "The provider could not be reached."


class DestinationRefusedError(ProviderError):
    category = "refused address"
    user_message = "Switchboard refused to connect to this address."


class ConfigurationError(ProviderError):
    category = "bad configuration"
    user_message = (
        "The provider is set up in a way Switchboard cannot use; correct it in the admin."
    )


class MalformedResponseError(ProviderError):
    category = "unexpected response"
    user_message = "The provider's answer was not in the expected format."


def error_for_status(status: int, detail: str) -> ProviderError:
    """One status mapping for every protocol; `detail` goes to logs and last_error."""
    kinds: dict[int, type[ProviderError]] = {
        401: AuthError,
        403: ForbiddenError,
        404: ModelNotFoundError,
        429: RateLimitError,
    }
    if status in kinds:
        kind = kinds[status]
    elif 300 <= status < 400:
        kind = MalformedResponseError  # redirects are never followed: a key stays put
    elif status >= 500:
        kind = UnavailableError
    else:
        kind = BadRequestError
    return kind(detail=f"HTTP {status}: {detail}", status=status)


@dataclass(frozen=True)
class UpstreamModel:
    model_id: str
    display_name: str = ""


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "user" | "assistant" | "system"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model_id: str
    messages: tuple[ChatMessage, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)  # validators.MODEL_SETTINGS


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int  # every input token, those read from the provider's cache too
    output_tokens: int
    cached_tokens: int = 0  # of the input tokens, those read from the cache


@dataclass(frozen=True)
class Finish:
    reason: str  # the upstream's own word: "stop", "length", "end_turn", "max_tokens", …
    # The model stopped at its output limit (the request's max_tokens), mid-answer: each
    # runner knows its protocol's word for it, so nothing above them needs to.
    at_output_limit: bool = False


Event = TextDelta | Usage | Finish


class Runner(Protocol):
    def stream(self, request: ChatRequest) -> AsyncIterator[Event]: ...

    async def list_models(self) -> list[UpstreamModel]: ...

    async def check(self, model_id: str) -> None:
        """Spend one output token on `model_id`: proof that the key can use it."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ProviderTarget:
    """What a runner needs to reach one provider, as plain values (the key decrypted)."""

    name: str
    protocol: str
    base_url: str
    api_key: str = field(repr=False)  # a repr lands in logs and tracebacks
    allow_private_network: bool = False
    output_limit_param: str = "max_tokens"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    extra_headers: tuple[tuple[str, str], ...] = ()
    api_key_is_personal: bool = False  # the person's own key, not the team's


def sdk_options(target: ProviderTarget, http_client: httpx2.AsyncClient) -> dict[str, Any]:
    """Constructor arguments both official SDKs take, set the same way for both."""
    return {
        "base_url": target.base_url,
        "http_client": http_client,  # the guarded transport: see providers/upstream/transport.py
        "timeout": http_client.timeout,
        "max_retries": 0,  # a retry is the caller's choice, made before any token was relayed
        "default_headers": dict(target.extra_headers),
        "_strict_response_validation": True,  # a body of the wrong shape is an error, not data
    }


STREAM_CUT = "The connection closed in the middle of the answer."
# An upstream's own words are kept this long: enough for any real error message, and
# bounded, because they land in the database, the page and the log.
DETAIL_LIMIT = 1000


@contextmanager
def translated_errors(sdk: ModuleType, *, secret: str) -> Iterator[None]:
    """Turn an SDK's exceptions into ProviderErrors, with `secret` masked in every detail.

    The openai and anthropic SDKs are generated from one template and share these
    exception names, so one translation serves both; pass the SDK module. Every text that
    came from the wire goes through `clean` before it is raised, so nothing above this
    function ever holds the key in any form (providers/keys/redaction.py).
    """

    def clean(text: str) -> str:
        return redact(text[:DETAIL_LIMIT], secret)

    try:
        yield
    except RefusedAddressError as e:  # the SDKs let it through unwrapped
        raise DestinationRefusedError(detail=e.user_message) from e
    except OversizedResponseError as e:  # likewise
        raise MalformedResponseError(detail=e.detail) from e
    # While a stream is read, the anthropic SDK lets transport errors through unwrapped.
    except httpx2.TimeoutException as e:
        raise UpstreamTimeoutError(detail=clean(str(e))) from e
    except (httpx2.RemoteProtocolError, httpx2.ReadError) as e:
        raise UnavailableError(detail=STREAM_CUT) from e
    except sdk.APITimeoutError as e:  # before its parent, APIConnectionError
        raise UpstreamTimeoutError(detail=clean(str(e.__cause__ or e.message))) from e
    except sdk.APIConnectionError as e:
        if isinstance(e.__cause__, httpx2.RemoteProtocolError | httpx2.ReadError):
            # The connection opened and then broke: mid-stream, not unreachable.
            raise UnavailableError(detail=STREAM_CUT) from e
        raise UnreachableError(detail=clean(str(e.__cause__ or e.message))) from e
    except UnicodeDecodeError as e:  # the SDKs decode each SSE line as UTF-8, unguarded
        raise MalformedResponseError(
            detail=f"The stream held bytes that are not UTF-8 text ({e.reason} at byte {e.start} "
            "of a line)."
        ) from e
    # From here on the SDK's exception holds the upstream's own words, unredacted: it is
    # not chained (`from None`), or any traceback that shows our error would show the key.
    except sdk.APIStatusError as e:
        detail = clean(_upstream_message(e.body, e.message))
        if e.status_code < 300:  # an error event inside a stream that began with 200
            raise UnavailableError(detail=detail) from None
        retry_after = e.response.headers.get("retry-after")
        if retry_after:
            detail += f" (retry after {clean(retry_after)[:20]} s)"
        raise error_for_status(e.status_code, detail) from None
    except (sdk.APIResponseValidationError, json.JSONDecodeError) as e:
        raise MalformedResponseError(detail=clean(str(e)[:300])) from None
    except sdk.APIError as e:  # an `error` event in the middle of a stream
        raise UnavailableError(detail=clean(_upstream_message(e.body, e.message))) from None


def _upstream_message(body: object, fallback: str) -> str:
    """The human part of an error body: OpenAI and Anthropic both nest it in "error"."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return fallback
