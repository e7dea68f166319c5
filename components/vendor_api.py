"""The vendor's documented HTTP APIs, as one small client: the gateway appliance and the tenant's platform API.

Standard library only (``urllib`` and ``ssl``), because this module also runs inside the Pulumi dynamic
provider process, which has the program's virtualenv but nothing set up beyond it.

Endpoints, headers and payloads follow the vendor's public API docs (README, "Gateway services and
registration"):

* The appliance (the Gateway Manager, ``https://<floating IP>:5480``): an access token from the appliance's
  user and password (``POST /v2/auth/token``, or ``POST /api/v2/apiTokenGen`` in older releases), then
  ``POST /api/v2/registration`` with ``{"activationKey", "opsRampServer"}`` and ``Authorization: Token ...``.
* The platform API (``https://<tenant API host>``): an OAuth 2.0 client-credentials token
  (``POST /auth/oauth/token``), then a gateway management profile is created
  (``POST /api/v2/tenants/{tenantId}/managementProfiles``) or attached
  (``GET .../managementProfiles/{id}/attach``), either of which yields an activation token.

Every call has a timeout. A 429 (rate limited) is retried after the server's ``Retry-After`` (or a growing
pause) for up to a minute, never past the caller's deadline. Every failure is a :class:`VendorApiError` whose
message names the method and URL, what went wrong and what to do. No secret (password, client secret, token,
activation key) is ever put in a message: response bodies quoted in errors have every known secret replaced by
``[secret]``.
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
from typing import Any, Literal

#: Seconds one HTTP call may take (connect, TLS handshake, answer) before it counts as not answering.
DEFAULT_CALL_TIMEOUT = 20.0
#: The appliance's token endpoints, newest first: newer releases document ``/v2/auth/token``, older ones
#: ``/api/v2/apiTokenGen``. A 404 or 405 from one means "not this release", so the next one is tried.
APPLIANCE_TOKEN_PATHS: tuple[str, ...] = ("/v2/auth/token", "/api/v2/apiTokenGen")
APPLIANCE_REGISTER_PATH = "/api/v2/registration"
PLATFORM_TOKEN_PATH = "/auth/oauth/token"
#: How long a quoted response body may be in an error message.
_BODY_QUOTE = 300
#: Seconds one call keeps retrying while the server answers 429 (rate limited), unless a caller's deadline ends
#: it sooner. Rate limits are per minute, so a minute of patience usually gets through.
DEFAULT_RATE_LIMIT_SECONDS = 60.0
#: The longest single pause for a 429, whatever ``Retry-After`` asks for.
_MAX_RATE_LIMIT_PAUSE = 30.0


# ------------------------------------------------------------------------------------------------ errors


class VendorApiError(Exception):
    """A call to the vendor's API failed. ``str()`` names the method, the URL, the problem and the fix."""

    def __init__(self, method: str, url: str, problem: str, fix: str, *, status: int | None = None) -> None:
        self.method = method
        self.url = url
        self.problem = problem
        self.fix = fix
        self.status = status
        super().__init__(f"{method} {url}: {problem} {fix}".strip())


class UnreachableError(VendorApiError):
    """No HTTP answer: refused, reset, no route, DNS failure or a call timeout."""


class ManagerTimeoutError(VendorApiError):
    """The Gateway Manager did not answer within the wait time."""


class CertificateRejectedError(VendorApiError):
    """The server's TLS certificate failed verification (the pinned certificate, or the trusted CAs)."""


class UnauthorizedError(VendorApiError):
    """401: wrong user or password, wrong client key or secret, or a token the server does not accept."""


class TokenExpiredError(VendorApiError):
    """407: the access token expired, and a fresh one expired too (or the server keeps saying so)."""


class RequestFailedError(VendorApiError):
    """Any other refusal or an answer that does not follow the documented shape."""


# ----------------------------------------------------------------------------------------------- plumbing


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


def appliance_tls(ca_cert: str | None) -> ssl.SSLContext:
    """TLS settings for the appliance.

    With ``ca_cert`` (PEM), the appliance must present that certificate or one it signed: it is the only
    trust anchor, so this pins the appliance. Host names are not checked because the appliance's
    self-signed certificate rarely names the floating IP; the anchor itself is the pin. Without it, the
    appliance's self-signed certificate is accepted unverified (the program warns about that).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if ca_cert is None:
        context.verify_mode = ssl.CERT_NONE
        return context
    context.verify_mode = ssl.CERT_REQUIRED
    # A pinned leaf that some internal CA issued is an anchor in its own right, without that CA.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=ca_cert)
    return context


def platform_tls(ca_cert: str | None) -> ssl.SSLContext:
    """TLS settings for the platform API: the system's trusted CAs (or ``ca_cert``), host name checked."""
    return ssl.create_default_context(cadata=ca_cert) if ca_cert else ssl.create_default_context()


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (and its URL-encoded form) replaced by ``[secret]``."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
            text = text.replace(form, "[secret]")
    return text


class _Http:
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


# ---------------------------------------------------------------------------------------------- appliance

RegisterOutcome = Literal["registered", "already-registered"]


class ApplianceClient:
    """The gateway appliance's API (the Gateway Manager at ``https://<floating IP>:5480``)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        ca_cert: str | None = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        rate_limit_seconds: float = DEFAULT_RATE_LIMIT_SECONDS,
    ) -> None:
        self.username = username
        self._password = password
        self._secrets: list[str] = [password]
        self.http = _Http(
            base_url,
            appliance_tls(ca_cert),
            timeout=timeout,
            use_env_proxy=False,
            secrets=lambda: self._secrets,
            rate_limit_seconds=rate_limit_seconds,
        )
        self._token_path: str | None = None
        self._token: str | None = None

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def _unreachable_fix(self) -> str:
        return (
            f"Check that this machine can reach {self.base_url} (the floating IP, served by MetalLB) and that "
            "the gateway-manager release is running: `microk8s kubectl get pods,svc -A` on a node."
        )

    def token(self) -> str:
        """A fresh access token from the appliance's user and password."""
        paths = [self._token_path] if self._token_path else list(APPLIANCE_TOKEN_PATHS)
        path, answer = paths[0], self._post_token(paths[0])
        for other in paths[1:]:
            if answer.status not in (404, 405):
                break
            path, answer = other, self._post_token(other)
        url = self.http.url(path)
        if answer.status == 401:
            raise UnauthorizedError(
                "POST",
                url,
                f"401 Unauthorized: the Gateway Manager rejected user {self.username!r} and its password.",
                "Check gateway-cluster:registration.managerUser and the secret gateway-cluster:managerPassword "
                "(the chart's secrets.defaultPassword; if the password was changed in the manager since, set "
                "the current one).",
                status=401,
            )
        if answer.status != 200:
            raise _refusal(
                "POST", url, answer, self.http, "Check that this address is the Gateway Manager (port 5480)."
            )
        token = _field(answer, "token")
        if token is None:
            raise RequestFailedError(
                "POST",
                url,
                "the answer has no 'token' field.",
                "Check that this address is the Gateway Manager (port 5480).",
                status=200,
            )
        self._token_path = path
        self._token = token
        self._secrets.append(token)
        return token

    def _post_token(self, path: str) -> Answer:
        return self.http.call(
            "POST",
            path,
            form={"username": self.username, "password": self._password},
            unreachable_fix=self._unreachable_fix(),
        )

    def wait_for_token(self, wait_seconds: float, *, interval: float = 5.0) -> str:
        """:meth:`token`, retried while the manager does not answer yet (still starting, or its address not
        yet announced by MetalLB), for up to ``wait_seconds``. Any real answer (a 401 included) ends the wait."""
        deadline = time.monotonic() + wait_seconds
        call_timeout = self.http.timeout
        while True:
            # No single attempt may outlast the wait: a manager that accepts connections but never answers
            # would otherwise hold the first attempt for the whole call timeout (and a 429 its retries).
            self.http.timeout = max(0.1, min(call_timeout, deadline - time.monotonic()))
            self.http.deadline = deadline
            try:
                return self.token()
            except UnreachableError as exc:
                last = exc.problem
            except RequestFailedError as exc:
                # A proxy or the ingress in front of a starting pod answers 502-504 until the pod is ready.
                if exc.status not in (502, 503, 504):
                    raise
                last = exc.problem
            finally:
                self.http.timeout = call_timeout
                self.http.deadline = None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ManagerTimeoutError(
                    "POST",
                    self.http.url(self._token_path or APPLIANCE_TOKEN_PATHS[0]),
                    f"the Gateway Manager at {self.base_url} did not answer within {wait_seconds:g} s "
                    f"(last attempt: {last.rstrip('.')}).",
                    self._unreachable_fix()
                    + " Raise gateway-cluster:registration.waitSeconds if it only needs longer to start.",
                )
            time.sleep(min(interval, remaining))

    def register(self, activation_key: str, server: str) -> RegisterOutcome:
        """Registers the appliance with the tenant; an already registered appliance is left as it is.

        A 407 (token expired: the wait for the manager can outlast a token) gets one fresh token and one
        retry. An answer saying the appliance is already registered counts as success, so running this
        again changes nothing.
        """
        self._secrets.append(activation_key)
        url = self.http.url(APPLIANCE_REGISTER_PATH)
        answer = self._post_registration(activation_key, server)
        if answer.status == 407:
            self._token = None
            answer = self._post_registration(activation_key, server)
        if answer.status in (200, 201):
            return "already-registered" if _already_registered(answer) else "registered"
        if answer.status == 407:
            raise TokenExpiredError(
                "POST",
                url,
                "407: the appliance says the access token expired, even right after a fresh one was issued.",
                "Check the appliance's clock (NTP) and run `pulumi up` again.",
                status=407,
            )
        if answer.status == 401:
            raise UnauthorizedError(
                "POST",
                url,
                "401 Unauthorized: the appliance refused the registration (the access token or the activation "
                "key was not accepted).",
                "Check the activation token: the secret gateway-cluster:activationToken, or the management "
                "profile's token (an attach issues a fresh one and may invalidate older ones).",
                status=401,
            )
        if _already_registered(answer):
            return "already-registered"
        raise _refusal(
            "POST",
            url,
            answer,
            self.http,
            f"Check gateway-cluster:registration.server ({server!r}, the tenant's API host) and the activation token.",
        )

    def _post_registration(self, activation_key: str, server: str) -> Answer:
        token = self._token or self.token()
        return self.http.call(
            "POST",
            APPLIANCE_REGISTER_PATH,
            body={"activationKey": activation_key, "opsRampServer": server},
            headers={"Authorization": f"Token {token}"},
            unreachable_fix=self._unreachable_fix(),
        )


def _already_registered(answer: Answer) -> bool:
    return "already registered" in answer.text().lower()


def _field(answer: Answer, name: str) -> str | None:
    try:
        data = answer.json()
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _refusal(method: str, url: str, answer: Answer, http: _Http, fix: str) -> VendorApiError:
    status = answer.status
    meaning = {
        400: "400 Bad Request",
        404: "404 Not Found",
        405: "405 Method Not Allowed",
        410: "410 Gone: the tenant no longer exists",
        429: "429 Too Many Requests: rate limited",
    }.get(status, f"HTTP {status}")
    if status == 429:
        fix = (
            f"It was retried for up to {http.rate_limit_seconds:g} s (or until the wait ran out). Wait a few "
            "minutes and run `pulumi up` again."
        )
    elif status == 410:
        fix = "Check gateway-cluster:registration.server and tenantId: the tenant was removed or moved."
    return RequestFailedError(method, url, f"{meaning}.{http.quote(answer)}", fix, status=status)


def register_appliance(
    manager_url: str,
    username: str,
    password: str,
    activation_key: str,
    server: str,
    *,
    ca_cert: str | None = None,
    wait_seconds: float = 900.0,
    interval: float = 5.0,
    timeout: float = DEFAULT_CALL_TIMEOUT,
    rate_limit_seconds: float = DEFAULT_RATE_LIMIT_SECONDS,
) -> RegisterOutcome:
    """Waits for the Gateway Manager, gets an access token and registers the appliance with the tenant."""
    client = ApplianceClient(
        manager_url, username, password, ca_cert=ca_cert, timeout=timeout, rate_limit_seconds=rate_limit_seconds
    )
    client.wait_for_token(wait_seconds, interval=interval)
    return client.register(activation_key, server)


# ----------------------------------------------------------------------------------------------- platform


@dataclass(frozen=True)
class Profile:
    """A gateway management profile and the activation token it issued."""

    id: str
    name: str | None
    activation_token: str
    registered: bool | None


class PlatformClient:
    """The tenant's platform API, with OAuth 2.0 client credentials."""

    def __init__(
        self,
        server: str,
        client_key: str,
        client_secret: str,
        *,
        ca_cert: str | None = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        rate_limit_seconds: float = DEFAULT_RATE_LIMIT_SECONDS,
    ) -> None:
        self._client_key = client_key
        self._client_secret = client_secret
        self._secrets: list[str] = [client_key, client_secret]
        self.http = _Http(
            f"https://{server}",
            platform_tls(ca_cert),
            timeout=timeout,
            use_env_proxy=True,
            secrets=lambda: self._secrets,
            rate_limit_seconds=rate_limit_seconds,
        )
        self._token: str | None = None

    def _unreachable_fix(self) -> str:
        return (
            "Check gateway-cluster:registration.server (the tenant's API host, e.g. 'acme.api.opsramp.com'), "
            "this machine's internet access and its HTTPS_PROXY setting."
        )

    def access_token(self) -> str:
        """A fresh OAuth 2.0 access token for the client credentials."""
        answer = self.http.call(
            "POST",
            PLATFORM_TOKEN_PATH,
            form={
                "grant_type": "client_credentials",
                "client_id": self._client_key,
                "client_secret": self._client_secret,
            },
            unreachable_fix=self._unreachable_fix(),
        )
        url = self.http.url(PLATFORM_TOKEN_PATH)
        if answer.status in (400, 401):
            raise UnauthorizedError(
                "POST",
                url,
                f"{answer.status}: the platform rejected the client credentials.",
                "Check the secrets gateway-cluster:registrationClientKey and registrationClientSecret (an API "
                "integration's key and secret in the tenant), and that the integration is enabled.",
                status=answer.status,
            )
        if answer.status != 200:
            raise _refusal("POST", url, answer, self.http, self._unreachable_fix())
        token = _field(answer, "access_token")
        if token is None:
            raise RequestFailedError(
                "POST", url, "the answer has no 'access_token' field.", self._unreachable_fix(), status=200
            )
        self._token = token
        self._secrets.append(token)
        return token

    def _authorized(self, method: str, path: str, body: Mapping[str, Any] | None, fix: str) -> Answer:
        """One call with a bearer token; a 407 (expired) gets one fresh token and one retry."""
        url = self.http.url(path)
        answer = self._bearer_call(method, path, body)
        if answer.status == 407:
            self._token = None
            answer = self._bearer_call(method, path, body)
        if answer.status == 407:
            raise TokenExpiredError(
                method,
                url,
                "407: the platform says the access token expired, even right after a fresh one was issued.",
                "Check this machine's clock and run `pulumi up` again.",
                status=407,
            )
        if answer.status in (401, 403):
            raise UnauthorizedError(
                method,
                url,
                f"{answer.status}: the platform refused the request.",
                "Check that the API integration behind registrationClientKey may manage gateway management "
                "profiles, and gateway-cluster:registration.tenantId.",
                status=answer.status,
            )
        if answer.status != 200:
            raise _refusal(method, url, answer, self.http, fix)
        return answer

    def _bearer_call(self, method: str, path: str, body: Mapping[str, Any] | None) -> Answer:
        token = self._token or self.access_token()
        return self.http.call(
            method,
            path,
            body=body,
            headers={"Authorization": f"Bearer {token}"},
            unreachable_fix=self._unreachable_fix(),
        )

    def create_profile(self, tenant_id: str, name: str, description: str) -> Profile:
        """Creates a gateway management profile (the run-book's Setup > Management Profiles)."""
        path = f"/api/v2/tenants/{_segment(tenant_id)}/managementProfiles"
        answer = self._authorized(
            "POST",
            path,
            {"name": name, "description": description, "type": "Gateway"},
            f"If a profile named {name!r} already exists, set gateway-cluster:registration.profileId to its ID to "
            "attach it instead of creating one.",
        )
        return _profile(answer, "POST", self.http.url(path), self._secrets, fallback_name=name)

    def attach_profile(self, tenant_id: str, profile_id: str) -> Profile:
        """Attaches a gateway to an existing profile; the platform issues a fresh activation token."""
        path = f"/api/v2/tenants/{_segment(tenant_id)}/managementProfiles/{_segment(profile_id)}/attach"
        answer = self._authorized(
            "GET",
            path,
            None,
            f"Check gateway-cluster:registration.profileId ({profile_id!r}) and tenantId ({tenant_id!r}).",
        )
        return _profile(answer, "GET", self.http.url(path), self._secrets, fallback_id=profile_id)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _profile(
    answer: Answer,
    method: str,
    url: str,
    secrets: list[str],
    *,
    fallback_id: str | None = None,
    fallback_name: str | None = None,
) -> Profile:
    try:
        data = answer.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise RequestFailedError(
            method, url, "the answer is not a JSON object.", "Check registration.server.", status=200
        )
    token = data.get("activationToken")
    profile_id = data.get("id", fallback_id)
    if not isinstance(token, str) or not token or profile_id in (None, ""):
        raise RequestFailedError(
            method,
            url,
            "the answer has no 'activationToken' (or no profile 'id').",
            "Check that the profile is a gateway management profile (type Gateway).",
            status=200,
        )
    secrets.append(token)
    name = data.get("name", fallback_name)
    registered = data.get("registered")
    return Profile(
        id=str(profile_id),
        name=str(name) if name is not None else None,
        activation_token=token,
        registered=registered if isinstance(registered, bool) else None,
    )
