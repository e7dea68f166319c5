"""The vendor API's errors: one type per kind of failure, each naming the method, the URL, the problem and the fix.

The callers (the dynamic providers, the run-book) tell failures apart by type: no answer at all, a pinned
certificate that does not match, refused credentials, an expired token, or any other refusal.
"""

from __future__ import annotations


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
