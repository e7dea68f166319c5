"""Registration with the tenant: a management profile's activation token, then the appliance registered with it.

Two Pulumi dynamic resources call :mod:`components.vendor_api` from the dynamic provider process:

* :class:`ManagementProfile` (with platform API credentials) creates a gateway management profile, or
  attaches an existing one, and yields its activation token as a secret.
* :class:`Registration` waits for the Gateway Manager, gets an appliance token with the manager's user and
  password, and registers the appliance with the activation token and the tenant's API host.

Both are idempotent: unchanged inputs mean no call at all, and an appliance that says it is already
registered counts as registered when the resource is first created. Neither deletes anything remotely: the
vendor documents no de-register call, so ``pulumi destroy`` or a migration leaves that step to the vendor's
UI (docs/operations.md, "Migrating from a classic gateway").

The providers hold no state: every value, secrets included, reaches them as a (secret) input, so the
provider that Pulumi pickles into the state (``__provider``) captures no secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components import vendor_api
from components.config import RegistrationSettings

#: Inputs whose change means registering again (a new cluster address, tenant or activation token, or a
#: rebuilt cluster whose freshly installed manager is not registered yet).
_REGISTRATION_KEYS = ("manager_url", "server", "activation_token", "cluster")
#: What the appliance is registered with: a change means a registration the appliance cannot simply take.
_IDENTITY_KEYS = ("server", "activation_token")
#: Inputs that are only recorded: a new wait time or pinned certificate changes nothing on the appliance.
_RECORDED_KEYS = ("manager_user", "ca_cert", "wait_seconds")
#: Inputs that identify the profile: a change means another profile (a replacement).
_PROFILE_KEYS = ("server", "tenant_id", "attach_profile_id", "create_profile_name")
_PROFILE_RECORDED_KEYS = ("client_key", "client_secret", "platform_ca_cert", "description")


def _stored(props: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    """The inputs worth keeping in the state: no provider blob, none of ``drop``."""
    return {k: v for k, v in props.items() if not k.startswith("__") and k not in drop}


# ---------------------------------------------------------------------------------------- the providers


class ManagementProfileProvider(dynamic.ResourceProvider):
    """Creates or attaches a gateway management profile through the platform API."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        client = vendor_api.PlatformClient(
            props["server"],
            props["client_key"],
            props["client_secret"],
            ca_cert=props.get("platform_ca_cert"),
        )
        attach = props.get("attach_profile_id")
        if attach:
            profile = client.attach_profile(props["tenant_id"], attach)
        else:
            profile = client.create_profile(props["tenant_id"], props["create_profile_name"], props["description"])
        outs = {
            **_stored(props),
            "profile_id": profile.id,
            "profile_name": profile.name or props.get("create_profile_name"),
            "activation_token": profile.activation_token,
            "created": not attach,
        }
        return dynamic.CreateResult(id_=profile.id, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [k for k in _PROFILE_KEYS if olds.get(k) != news.get(k)]
        recorded = [k for k in _PROFILE_RECORDED_KEYS if olds.get(k) != news.get(k)]
        # Another profile (or tenant) is a new resource; new credentials are only recorded, so that they
        # do not make the platform issue a fresh activation token.
        return dynamic.DiffResult(changes=bool(replaces or recorded), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        kept: dict[str, Any] = {
            k: olds[k] for k in ("profile_id", "profile_name", "activation_token", "created") if k in olds
        }
        return dynamic.UpdateResult(outs={**_stored(news), **kept})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # The profile stays in the tenant: it may hold the gateway's history, and a rollback to a classic
        # gateway attaches to it again. Deleting it is a deliberate step in the vendor's UI.
        return None


class RegistrationProvider(dynamic.ResourceProvider):
    """Registers the Gateway Manager's appliance with the tenant."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        outcome = self._register(props)
        return dynamic.CreateResult(id_=props["manager_url"], outs=self._outs(props, outcome))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in (*_REGISTRATION_KEYS, *_RECORDED_KEYS) if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        if all(olds.get(k) == news.get(k) for k in _REGISTRATION_KEYS):
            # Only recorded inputs changed: nothing to tell the appliance.
            return dynamic.UpdateResult(outs=self._outs(news, olds.get("outcome", "registered")))
        outcome = self._register(news)
        same_registration = all(olds.get(k) == news.get(k) for k in _IDENTITY_KEYS)
        # Only the address or the cluster changed (a new floatingIp, a rebuilt cluster): an appliance registered
        # with this very token and tenant may answer there, so "already registered" is no conflict.
        if outcome == "already-registered" and not same_registration:
            raise vendor_api.RequestFailedError(
                "POST",
                f"{news['manager_url']}{vendor_api.APPLIANCE_REGISTER_PATH}",
                "the appliance is already registered, so it cannot take the new activation token or tenant.",
                "The vendor documents no de-register call: de-register (detach) this gateway from its "
                "management profile in the vendor's UI, then run `pulumi up` again "
                "(docs/operations.md, section Migrating from a classic gateway).",
            )
        return dynamic.UpdateResult(outs=self._outs(news, outcome))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # No de-register call exists in the vendor's public API: the UI step is in docs/operations.md
        # (Migrating from a classic gateway).
        return None

    @staticmethod
    def _register(props: Mapping[str, Any]) -> vendor_api.RegisterOutcome:
        return vendor_api.register_appliance(
            props["manager_url"],
            props["manager_user"],
            props["manager_password"],
            props["activation_token"],
            props["server"],
            ca_cert=props.get("ca_cert"),
            wait_seconds=float(props.get("wait_seconds", 900)),
        )

    @staticmethod
    def _outs(props: Mapping[str, Any], outcome: str) -> dict[str, Any]:
        # The password is not kept: nothing later needs it, and what is not stored cannot leak.
        return {**_stored(props, "manager_password"), "status": "registered", "outcome": outcome}


# ----------------------------------------------------------------------------------------- the resources


@dataclass(frozen=True)
class ManagementProfileArgs:
    """Which profile, in which tenant, with which platform API credentials."""

    server: str
    """The tenant's API host."""
    tenant_id: str
    """The tenant's ID."""
    client_key: pulumi.Input[str]
    """The platform API client key (a secret)."""
    client_secret: pulumi.Input[str]
    """The platform API client secret (a secret)."""
    attach_profile_id: str | None
    """An existing profile to attach; ``None`` creates ``create_profile_name``."""
    create_profile_name: str | None
    """The name of the profile to create when ``attach_profile_id`` is ``None``."""
    description: str
    """The new profile's description."""
    platform_ca_cert: str | None = None
    """PEM CA for the platform API; ``None``: the system's trusted CAs."""


class ManagementProfile(dynamic.Resource, module="gateway", name="ManagementProfile"):
    """A gateway management profile in the tenant, and the activation token it issued (a secret)."""

    profile_id: pulumi.Output[str]
    profile_name: pulumi.Output[str]
    activation_token: pulumi.Output[str]
    created: pulumi.Output[bool]

    def __init__(self, name: str, args: ManagementProfileArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "server": args.server,
            "tenant_id": args.tenant_id,
            "client_key": pulumi.Output.secret(args.client_key),
            "client_secret": pulumi.Output.secret(args.client_secret),
            "attach_profile_id": args.attach_profile_id,
            "create_profile_name": args.create_profile_name,
            "description": args.description,
            "platform_ca_cert": args.platform_ca_cert,
            "profile_id": None,
            "profile_name": None,
            "activation_token": None,
            "created": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["activation_token", "client_key", "client_secret"])
        super().__init__(ManagementProfileProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


@dataclass(frozen=True)
class RegistrationArgs:
    """Where the appliance is, how to log in, and what to register it with."""

    manager_url: str
    """``https://<floating IP>:5480``."""
    server: str
    """The tenant's API host (the registration's ``opsRampServer``)."""
    manager_user: str
    """The Gateway Manager's user."""
    manager_password: pulumi.Input[str]
    """Its password (a secret)."""
    activation_token: pulumi.Input[str]
    """The management profile's activation token (a secret)."""
    ca_cert: str | None = None
    """PEM certificate that pins the appliance; ``None`` accepts its self-signed certificate unverified."""
    wait_seconds: int = 900
    """How long to wait for the manager to answer."""
    cluster: pulumi.Input[str] | None = None
    """Which cluster runs the manager (:attr:`GatewayServices.cluster_identity`): a rebuilt cluster registers again."""


class Registration(dynamic.Resource, module="gateway", name="Registration"):
    """The appliance registered with the tenant. ``status`` is ``registered`` once it is."""

    status: pulumi.Output[str]
    outcome: pulumi.Output[str]

    def __init__(self, name: str, args: RegistrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "manager_url": args.manager_url,
            "server": args.server,
            "manager_user": args.manager_user,
            "manager_password": pulumi.Output.secret(args.manager_password),
            "activation_token": pulumi.Output.secret(args.activation_token),
            "ca_cert": args.ca_cert,
            "wait_seconds": args.wait_seconds,
            "cluster": None if args.cluster is None else pulumi.Output.secret(args.cluster),
            "status": None,
            "outcome": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["activation_token", "manager_password"])
        super().__init__(RegistrationProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


# ----------------------------------------------------------------------------------------- the component


@dataclass(frozen=True)
class GatewayRegistrationArgs:
    """The registration settings and the secrets that go with them."""

    settings: RegistrationSettings | None
    """From config; ``None`` (no ``registration`` key) skips registration like method ``skip``."""
    manager_url: str
    """``https://<floating IP>:5480``."""
    manager_password: pulumi.Input[str]
    """The manager's password (a secret)."""
    activation_token: pulumi.Input[str] | None
    """The ``activationToken`` secret (method ``token``)."""
    client_key: pulumi.Input[str] | None
    """The ``registrationClientKey`` secret (method ``platform``)."""
    client_secret: pulumi.Input[str] | None
    """The ``registrationClientSecret`` secret (method ``platform``)."""
    after: list[pulumi.Resource]
    """What must be running first: the gateway-manager release."""
    description: str
    """A new management profile's description: which project and stack manage it."""
    cluster_identity: pulumi.Input[str] | None = None
    """Which cluster runs the manager (:attr:`GatewayServices.cluster_identity` and the primary's VM): when it changes
    (a rebuilt cluster, a freshly installed manager; also another node made primary, where the appliance's "already
    registered" counts as done), the appliance is registered again. ``None``: only the inputs above trigger one."""


def skip_reason(settings: RegistrationSettings | None) -> str | None:
    """Why registration is skipped, or ``None`` when it runs."""
    if settings is None:
        return "no gateway-cluster:registration is set"
    if settings.method == "skip":
        return "neither the activationToken secret nor the platform API credentials are set"
    return None


class GatewayRegistration(pulumi.ComponentResource):
    """The management profile (with platform credentials) and the registration, or nothing when skipped."""

    status: pulumi.Output[str]
    """``registered`` once the appliance is registered, ``skipped`` when registration is not configured."""
    profile_id: pulumi.Output[str | None]
    """The management profile's ID when the program manages it."""

    def __init__(self, name: str, args: GatewayRegistrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:GatewayRegistration", name, None, opts)
        settings = args.settings
        reason = skip_reason(settings)
        self.profile: ManagementProfile | None = None
        self.registration: Registration | None = None
        if reason is not None or settings is None:
            pulumi.log.warn(
                f"Registration skipped: {reason}. Set the activationToken secret, or the platform API credentials "
                "(see docs/operations.md, section Registering a new cluster), and run `pulumi up` again.",
                resource=self,
            )
            self.status = pulumi.Output.from_input("skipped")
            self.profile_id = pulumi.Output.from_input(None)
            self.register_outputs({"status": self.status, "profileId": self.profile_id})
            return

        after = pulumi.ResourceOptions(parent=self, depends_on=args.after)
        token: pulumi.Input[str]
        if settings.method == "platform":
            assert settings.tenant_id and args.client_key is not None and args.client_secret is not None
            # Created once the manager runs: a failed cluster build then leaves the tenant untouched.
            self.profile = ManagementProfile(
                f"{name}-profile",
                ManagementProfileArgs(
                    server=settings.server,
                    tenant_id=settings.tenant_id,
                    client_key=args.client_key,
                    client_secret=args.client_secret,
                    attach_profile_id=settings.profile_id,
                    create_profile_name=settings.profile_name,
                    description=args.description,
                    platform_ca_cert=settings.platform_ca_cert,
                ),
                opts=after,
            )
            token = self.profile.activation_token
            self.profile_id = self.profile.profile_id
        else:
            assert args.activation_token is not None
            token = args.activation_token
            self.profile_id = pulumi.Output.from_input(None)

        if settings.ca_cert is None:
            pulumi.log.warn(
                "gateway-cluster:registration.caCert is not set: the Gateway Manager's self-signed certificate "
                f"at {args.manager_url} will be accepted without verification when registering. Pin it (see "
                "docs/operations.md, section Pinning the appliance's certificate).",
                resource=self,
            )
        self.registration = Registration(
            f"{name}-appliance",
            RegistrationArgs(
                manager_url=args.manager_url,
                server=settings.server,
                manager_user=settings.manager_user,
                manager_password=args.manager_password,
                activation_token=token,
                ca_cert=settings.ca_cert,
                wait_seconds=settings.wait_seconds,
                cluster=args.cluster_identity,
            ),
            opts=after,
        )
        self.status = self.registration.status
        self.register_outputs({"status": self.status, "profileId": self.profile_id})
