"""The gateway appliance's API (the Gateway Manager at ``https://<floating IP>:5480``): an access token from the
appliance's user and password, then the appliance registered with the tenant.

Endpoints, headers and payloads follow the vendor's public API docs (docs/cluster.md, "Gateway services and
registration"): an access token from ``POST /v2/auth/token`` (``POST /api/v2/apiTokenGen`` in older releases),
then ``POST /api/v2/registration`` with ``{"activationKey", "opsRampServer"}`` and ``Authorization: Token ...``.
"""

from __future__ import annotations

import time
from typing import Literal

from components.vendor_api.answers import json_field, refusal
from components.vendor_api.errors import (
    ManagerTimeoutError,
    RequestFailedError,
    TokenExpiredError,
    UnauthorizedError,
    UnreachableError,
)
from components.vendor_api.tls import appliance_tls
from components.vendor_api.transport import DEFAULT_CALL_TIMEOUT, DEFAULT_RATE_LIMIT_SECONDS, Answer, Http

#: The appliance's token endpoints, newest first: newer releases document ``/v2/auth/token``, older ones
#: ``/api/v2/apiTokenGen``. A 404 or 405 from one means "not this release", so the next one is tried.
APPLIANCE_TOKEN_PATHS: tuple[str, ...] = ("/v2/auth/token", "/api/v2/apiTokenGen")
APPLIANCE_REGISTER_PATH = "/api/v2/registration"

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
        self.http = Http(
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
            raise refusal("POST", url, answer, self.http, "Check that this address is the Gateway Manager (port 5480).")
        token = json_field(answer, "token")
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
        raise refusal(
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
