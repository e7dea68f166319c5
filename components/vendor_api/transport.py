"""One server's HTTP calls: a timeout on each, 429s retried, no answer turned into an error that names the URL.

Standard library only (``urllib``), because this runs inside the Pulumi dynamic provider process, which has the
program's virtualenv but nothing set up beyond it.

A 429 (rate limited) is retried after the server's ``Retry-After`` (or a growing pause) for up to a minute, never
past the caller's deadline. Response bodies quoted in errors have every known secret replaced by ``[secret]``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.vendor_api.errors import CertificateRejectedError, UnreachableError

#: Seconds one HTTP call may take (connect, TLS handshake, answer) before it counts as not answering.
DEFAULT_CALL_TIMEOUT = 20.0
#: How long a quoted response body may be in an error message.
_BODY_QUOTE = 300
#: Seconds one call keeps retrying while the server answers 429 (rate limited), unless a caller's deadline ends
#: it sooner. Rate limits are per minute, so a minute of patience usually gets through.
DEFAULT_RATE_LIMIT_SECONDS = 60.0
#: The longest single pause for a 429, whatever ``Retry-After`` asks for.
_MAX_RATE_LIMIT_PAUSE = 30.0


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, whatever its status."""

    status: int
    body: bytes
    retry_after: float | None = None
    """Seconds from the ``Retry-After`` header (a 429's), when it has one."""

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (and its URL-encoded form) replaced by ``[secret]``."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
            text = text.replace(form, "[secret]")
    return text


class Http:
    """One server's HTTP calls: fixed TLS settings, a timeout per call, secrets to keep out of errors."""

    def __init__(
        self,
        base_url: str,
        context: ssl.SSLContext,
        *,
        timeout: float,
        use_env_proxy: bool,
        secrets: Callable[[], Iterable[str]],
        rate_limit_seconds: float = DEFAULT_RATE_LIMIT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.secrets = secrets
        self.rate_limit_seconds = rate_limit_seconds
        #: A ``time.monotonic()`` after which no 429 is retried (the caller's own deadline), or ``None``.
        self.deadline: float | None = None
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
        if not use_env_proxy:
            # The appliance sits on the local network: an HTTPS_PROXY meant for the internet must not
            # carry the manager's password to a proxy that cannot reach the floating IP anyway.
            handlers.append(urllib.request.ProxyHandler({}))
        self.opener = urllib.request.build_opener(*handlers)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def call(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        unreachable_fix: str,
    ) -> Answer:
        """Sends one request; returns the answer whatever its status, raises only when there is none.

        A 429 is sent again after ``Retry-After`` (or 1, 2, 4 ... s) while that fits in ``rate_limit_seconds``
        and before :attr:`deadline`; the last 429 is returned when it does not. A rate-limited request was not
        processed, so sending it again is safe even for a POST.
        """
        give_up = time.monotonic() + self.rate_limit_seconds
        if self.deadline is not None:
            give_up = min(give_up, self.deadline)
        pause = 1.0
        while True:
            answer = self._send(method, path, form=form, body=body, headers=headers, unreachable_fix=unreachable_fix)
            if answer.status != 429:
                return answer
            wait = min(answer.retry_after if answer.retry_after is not None else pause, _MAX_RATE_LIMIT_PAUSE)
            if time.monotonic() + wait > give_up:
                return answer
            time.sleep(wait)
            pause = min(pause * 2, _MAX_RATE_LIMIT_PAUSE)

    def _send(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        unreachable_fix: str,
    ) -> Answer:
        url = self.url(path)
        data: bytes | None = None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, exc.read(), _retry_after(exc.headers.get("Retry-After")))
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise CertificateRejectedError(
                    method,
                    url,
                    f"the server's TLS certificate was not accepted ({reason.verify_message}).",
                    "If the certificate changed on purpose, update the pinned certificate "
                    "(gateway-cluster:registration.caCert or .platformCaCert); otherwise something else "
                    "answers at this address.",
                ) from None
            raise UnreachableError(method, url, f"no answer ({_describe(reason)}).", unreachable_fix) from None
        except TimeoutError:
            raise UnreachableError(method, url, f"no answer within {self.timeout:g} s.", unreachable_fix) from None
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise UnreachableError(method, url, f"no answer ({_describe(exc)}).", unreachable_fix) from None
        except http.client.HTTPException as exc:
            # Not HTTP (a half-started server, something else on the port) or cut off mid-answer. Only the
            # type is named: the exception's text may quote what the server sent.
            raise UnreachableError(
                method, url, f"no usable HTTP answer ({type(exc).__name__}).", unreachable_fix
            ) from None

    def quote(self, answer: Answer) -> str:
        """The answer's body, short and with every known secret removed, for an error message."""
        text = " ".join(answer.text().split())
        text = redact(text, self.secrets())
        if len(text) > _BODY_QUOTE:
            text = text[:_BODY_QUOTE] + "..."
        return f" The server said: {text!r}." if text else ""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(reason: object) -> str:
    if isinstance(reason, BaseException):
        text = str(reason) or type(reason).__name__
        if isinstance(reason, TimeoutError):
            return f"timed out: {text}"
        return text
    return str(reason)
