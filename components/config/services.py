"""The gateway services on the cluster: where their charts come from (``charts``) and how the cluster registers
with the tenant (``registration``), with the rules that tie them to each other and to the secrets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, ValidationInfo, with_config
from pydantic.json_schema import SkipJsonSchema

from .declare import KEYS, Key, Problem, RuleInput, rule
from .kinds import ApiHost, ChartVersion, Pem, Text, Whole, checked_text

#: The vendor's OCI registry for the gateway charts. An example value, like the pinned versions below: use
#: the registry and the versions the vendor's run-book names for your gateway release.
DEFAULT_CHART_REPOSITORY = "oci://us-docker.pkg.dev/opsramp-registry/gateway-cluster-charts"
#: Per chart role: the chart's name and its pinned default version.
DEFAULT_CHARTS: Mapping[str, tuple[str, str]] = {
    "storage": ("gateway-persistent-storage", "1.0.0"),
    "manager": ("gateway-manager", "1.0.0"),
}


def _unpinned_keys_optional(schema: dict[str, Any]) -> None:
    # chart and version default to the role's pinned chart (ChartsSettings fills them in before validation).
    schema.pop("required", None)


@with_config(ConfigDict(**KEYS, json_schema_extra=_unpinned_keys_optional))
@dataclass(frozen=True)
class ChartSettings:
    """One Helm chart: which chart, exactly which version, and an optional values file."""

    chart: Annotated[
        Text, Key("The chart's name in the repository (or its folder under charts.directory), if the vendor's differs.")
    ]
    version: Annotated[
        ChartVersion,
        Key(
            "The exact chart version: pinned, never a range, so a new chart release "
            "changes nothing until you pin it here."
        ),
    ]
    values_file: Annotated[
        Text | None,
        Key(
            "A YAML values file on the machine that runs `pulumi`, applied first (the program's own values go over "
            "it; for storage: the vendor's cluster.yaml). Relative paths start at the project folder.",
            example="/srv/gateway/cluster.yaml",
        ),
    ] = None


def _role(role: str) -> BeforeValidator:
    """A chart map given for ``role`` keeps the role's chart and version for what it leaves out."""
    chart, version = DEFAULT_CHARTS[role]

    def fill(raw: Any) -> Any:
        return {"chart": chart, "version": version, **raw} if isinstance(raw, Mapping) else raw

    return BeforeValidator(fill)


@with_config(KEYS)
@dataclass(frozen=True)
class ChartsSettings:
    """Where the two gateway charts come from: an OCI repository, or a local folder of exported charts."""

    repository: Annotated[
        str | None,
        checked_text(
            "oci:// URL",
            r"^oci://",
            f"must be an OCI repository URL, e.g. '{DEFAULT_CHART_REPOSITORY}'; for charts on disk use "
            "charts.directory.",
        ),
        Key(
            "An oci:// repository holding both charts (the vendor's registry or a mirror; a private one needs "
            "`helm registry login` on the machine that runs `pulumi`). Unset when directory is set."
        ),
    ] = DEFAULT_CHART_REPOSITORY
    directory: Annotated[
        Text | None,
        Key(
            "Instead of a repository: a folder with one folder per chart, as `helm chart export <registry>/<chart>:"
            "<version> --destination <folder>` writes them. Each chart must be there with the pinned version in "
            "its Chart.yaml (checked before anything is registered: Helm ignores a local chart's version).",
            example="/srv/gateway-charts",
        ),
    ] = None
    storage: Annotated[ChartSettings, _role("storage"), Key("The gateway-persistent-storage chart.")] = field(
        default_factory=lambda: ChartSettings(*DEFAULT_CHARTS["storage"])
    )
    manager: Annotated[ChartSettings, _role("manager"), Key("The gateway-manager chart.")] = field(
        default_factory=lambda: ChartSettings(*DEFAULT_CHARTS["manager"])
    )

    def reference(self, chart: ChartSettings) -> str:
        """What Helm installs: ``oci://<repository>/<chart>`` or ``<directory>/<chart>``."""
        if self.directory is not None:
            return f"{self.directory.rstrip('/')}/{chart.chart}"
        return f"{(self.repository or DEFAULT_CHART_REPOSITORY).rstrip('/')}/{chart.chart}"


def from_one_source(charts: ChartsSettings) -> ChartsSettings:
    """Charts from a directory have no repository."""
    return dataclasses.replace(charts, repository=None) if charts.directory is not None else charts


@rule(
    after="charts",
    # A null stands for an unset key, as it does for the parser.
    schema={
        "not": {
            "required": ["repository", "directory"],
            "properties": {"repository": {"not": {"type": "null"}}, "directory": {"not": {"type": "null"}}},
        }
    },
)
def one_chart_source(given: RuleInput) -> Iterator[Problem]:
    """`charts` sets at most one of `charts.repository` and `charts.directory`."""
    charts = given.raw.get("charts")
    if isinstance(charts, Mapping) and charts.get("repository") is not None and charts.get("directory") is not None:
        yield (
            "charts",
            {"repository": charts.get("repository"), "directory": charts.get("directory")},
            "set one of charts.repository (an oci:// registry) or charts.directory (charts exported with "
            "`helm chart export`), not both.",
        )


# ---------------------------------------------------------------------------------------------- registration

RegistrationMethod = Literal["platform", "token", "skip"]
#: Secrets a user may put into the plain registration map by mistake, and the secret key each belongs in.
_MISPLACED_SECRETS = {"clientKey": "registrationClientKey", "clientSecret": "registrationClientSecret"}
_PLATFORM_ONLY = ("tenantId", "profileId", "profileName", "platformCaCert")


@with_config(KEYS)
@dataclass(frozen=True)
class RegistrationSettings:
    """How the cluster registers with the tenant."""

    server: Annotated[
        ApiHost,
        Key(
            "The tenant's API host, optionally with a port: the registration's opsRampServer and the address of "
            "the platform API.",
            example="acme.api.opsramp.com",
        ),
    ]
    # Not a key, so not an argument (pydantic then refuses it as an unknown key): the parser sets it from the
    # secrets that are set. `dataclasses.replace` resets it to "skip", like any field with init=False.
    method: Annotated[RegistrationMethod, SkipJsonSchema()] = field(default="skip", init=False)
    """``platform``: a management profile through the platform API (client key and secret set);
    ``token``: the ``activationToken`` secret; ``skip``: neither is set, so nothing registers."""
    manager_user: Annotated[Text, Key("The Gateway Manager's user; its password is the managerPassword secret.")] = (
        "admin"
    )
    tenant_id: Annotated[
        Text | None,
        Key(
            "The tenant (client) ID whose management profiles the platform API manages (with the platform API "
            "credentials).",
            example="client_12345",
        ),
    ] = None
    profile_id: Annotated[
        Text | None,
        Key(
            "An existing gateway management profile to attach (e.g. the classic gateway's, in a migration).",
            example="a1b2c3d4-...",
        ),
    ] = None
    profile_name: Annotated[
        Text | None, Key("The name of a gateway management profile to create.", example="gateway-cluster-prod")
    ] = None
    ca_cert: Annotated[
        Pem | None,
        Key("PEM certificate the appliance must present (or have been signed by); unset: accepted unverified."),
    ] = None
    platform_ca_cert: Annotated[
        Pem | None, Key("PEM CA for the platform API (a TLS-inspecting proxy); unset: the system's trusted CAs.")
    ] = None
    wait_seconds: Annotated[Whole, Key("How long registration waits for the Gateway Manager to answer.")] = 900


def _method(secrets: Mapping[str, bool]) -> RegistrationMethod:
    if secrets.get("registrationClientKey") and secrets.get("registrationClientSecret"):
        return "platform"
    return "token" if secrets.get("activationToken") else "skip"


def with_method(registration: RegistrationSettings, info: ValidationInfo) -> RegistrationSettings:
    """The method follows from the secrets that are set (the parser passes their presence as context)."""
    secrets = info.context.get("secrets", {}) if isinstance(info.context, Mapping) else {}
    # The instance is the validator's own, not yet seen by anyone: set the derived field as __post_init__ would.
    object.__setattr__(registration, "method", _method(secrets))
    return registration


WITH_METHOD = AfterValidator(with_method)


@rule(after="registration", consumes=tuple(_MISPLACED_SECRETS))
def no_secrets_in_registration(given: RuleInput) -> Iterator[Problem]:
    """`registration` holds no client key or secret: a secret inside a map would make the whole map a secret,
    and its other fields must stay readable at preview; they are the top-level secrets `registrationClientKey`
    and `registrationClientSecret`."""
    registration = given.raw.get("registration")
    for name, key in _MISPLACED_SECRETS.items():
        if isinstance(registration, Mapping) and name in registration:
            yield (
                f"registration.{name}",
                "[secret]",
                f"must not sit in the plain registration map, where it would be stored unencrypted: remove it and "
                f"run `pulumi config set --secret {key}`.",
            )


@rule(after="registration")
def registration_with_credentials(given: RuleInput) -> Iterator[Problem]:
    """`registration` is set when `activationToken` or a platform API credential is. The platform API needs
    both `registrationClientKey` and `registrationClientSecret`, then `registration.tenantId` and exactly one
    of `registration.profileId` (attach) and `registration.profileName` (create), and no `activationToken`.
    Without the credentials, `tenantId`, `profileId`, `profileName` and `platformCaCert` are not set."""
    has_token = bool(given.secrets.get("activationToken"))
    has_key = bool(given.secrets.get("registrationClientKey"))
    has_secret = bool(given.secrets.get("registrationClientSecret"))
    raw = given.raw.get("registration")
    if raw is None:
        if has_token or has_key or has_secret:
            yield (
                "registration",
                None,
                "is required to register: a map with server, the tenant's API host, e.g. "
                "{server: acme.api.opsramp.com}. Or unset activationToken and the registrationClient* secrets.",
            )
        return
    if not isinstance(raw, Mapping):
        return
    if has_key != has_secret:
        missing = "registrationClientSecret" if has_key else "registrationClientKey"
        yield (
            missing,
            None,
            f"is required with the other platform API credential: `pulumi config set --secret {missing}`.",
        )
    if has_key and has_secret:
        if has_token:
            yield (
                "activationToken",
                "[secret]",
                "set either activationToken or the platform API credentials (registrationClientKey/Secret), not "
                "both: with the credentials the program gets the activation token from the management profile.",
            )
        if raw.get("tenantId") is None:
            yield "registration.tenantId", None, "is required with the platform API credentials: your tenant's ID."
        if (raw.get("profileId") is None) == (raw.get("profileName") is None):
            yield (
                "registration",
                {"profileId": raw.get("profileId"), "profileName": raw.get("profileName")},
                "set one of registration.profileId (attach an existing management profile, e.g. the classic "
                "gateway's) or registration.profileName (create a new one), not "
                + ("both." if raw.get("profileId") is not None else "neither."),
            )
    elif not (has_key or has_secret):
        for name in _PLATFORM_ONLY:
            if raw.get(name) is not None:
                yield (
                    f"registration.{name}",
                    raw.get(name),
                    "is only used with the platform API credentials: set the secrets registrationClientKey and "
                    "registrationClientSecret, or remove it and set the activationToken secret.",
                )
