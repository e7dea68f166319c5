"""The vendor's documented HTTP APIs, as one small client: the gateway appliance and the tenant's platform API.

This package is the public face: callers (:mod:`components.registration`, the run-book's snippets, the tests)
import :mod:`components.vendor_api` and use the names below. Standard library only (``urllib`` and ``ssl``),
because it also runs inside the Pulumi dynamic provider process, which has the program's virtualenv but
nothing set up beyond it.

* :mod:`~components.vendor_api.appliance`: the Gateway Manager (``https://<floating IP>:5480``): an access
  token from the appliance's user and password, then the registration with the tenant.
* :mod:`~components.vendor_api.platform`: the platform API (``https://<tenant API host>``): an OAuth 2.0
  client-credentials token, then a gateway management profile created or attached.
* :mod:`~components.vendor_api.transport`: one server's HTTP calls, with a timeout each and 429s retried.
* :mod:`~components.vendor_api.tls`: the appliance pinned to its certificate, the platform by trusted CAs.
* :mod:`~components.vendor_api.answers` and :mod:`~components.vendor_api.errors`: what a refusal means, and
  the error types.

Every failure is a :class:`VendorApiError` whose message names the method and URL, what went wrong and what
to do. No secret (password, client secret, token, activation key) is ever put in a message: response bodies
quoted in errors have every known secret replaced by ``[secret]``.
"""

from components.vendor_api.appliance import (
    APPLIANCE_REGISTER_PATH,
    APPLIANCE_TOKEN_PATHS,
    ApplianceClient,
    RegisterOutcome,
    register_appliance,
)
from components.vendor_api.errors import (
    CertificateRejectedError,
    ManagerTimeoutError,
    RequestFailedError,
    TokenExpiredError,
    UnauthorizedError,
    UnreachableError,
    VendorApiError,
)
from components.vendor_api.platform import PLATFORM_TOKEN_PATH, PlatformClient, Profile
from components.vendor_api.tls import appliance_tls, platform_tls
from components.vendor_api.transport import DEFAULT_CALL_TIMEOUT, DEFAULT_RATE_LIMIT_SECONDS, Answer, redact

__all__ = [
    "APPLIANCE_REGISTER_PATH",
    "APPLIANCE_TOKEN_PATHS",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_RATE_LIMIT_SECONDS",
    "PLATFORM_TOKEN_PATH",
    "Answer",
    "ApplianceClient",
    "CertificateRejectedError",
    "ManagerTimeoutError",
    "PlatformClient",
    "Profile",
    "RegisterOutcome",
    "RequestFailedError",
    "TokenExpiredError",
    "UnauthorizedError",
    "UnreachableError",
    "VendorApiError",
    "appliance_tls",
    "platform_tls",
    "redact",
    "register_appliance",
]
