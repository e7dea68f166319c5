"""What an answer means when it is not the one hoped for: a field read from a JSON answer, or a refusal turned
into the error that names its status, what the server said (secrets removed) and the fix."""

from __future__ import annotations

from components.vendor_api.errors import RequestFailedError, VendorApiError
from components.vendor_api.transport import Answer, Http


def json_field(answer: Answer, name: str) -> str | None:
    """The answer's top-level string ``name``, or ``None`` when it is not JSON, absent, empty or not a string."""
    try:
        data = answer.json()
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def refusal(method: str, url: str, answer: Answer, http: Http, fix: str) -> VendorApiError:
    """The error for a refusal: its status named, the body quoted, ``fix`` unless the status has a fix of its own."""
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
