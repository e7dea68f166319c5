"""The tenant's platform API: an OAuth 2.0 client-credentials token, then a gateway management profile created or
attached, either of which yields an activation token.

Endpoints follow the vendor's public API docs (docs/cluster.md, "Gateway services and registration"): the token from
``POST /auth/oauth/token``, a profile created with ``POST /api/v2/tenants/{tenantId}/managementProfiles`` or
attached with ``GET .../managementProfiles/{id}/attach``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.vendor_api.answers import json_field, refusal
from components.vendor_api.errors import RequestFailedError, TokenExpiredError, UnauthorizedError
from components.vendor_api.tls import platform_tls
from components.vendor_api.transport import DEFAULT_CALL_TIMEOUT, DEFAULT_RATE_LIMIT_SECONDS, Answer, Http

PLATFORM_TOKEN_PATH = "/auth/oauth/token"


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
        self.http = Http(
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
            raise refusal("POST", url, answer, self.http, self._unreachable_fix())
        token = json_field(answer, "access_token")
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
            raise refusal(method, url, answer, self.http, fix)
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
