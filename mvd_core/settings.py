"""Process-wide settings, read from the environment (prefix ``MVD_``) with pydantic-settings.

Every environment variable the control plane reads is a field here, so ``infra/`` can be
checked against this one list (see ``tests/infra``). Secrets are ``SecretStr`` so they never
print.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from mvd_core.errors import MvdError

# Shortest API token or webhook secret accepted; shorter ones are refused at start.
MIN_SECRET_LENGTH = 16
# A bearer token as RFC 6750 spells it (b64token): what can travel in "Authorization: Bearer ...".
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
WEBHOOK_SOURCE_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"
# What App Service leaves in an app setting whose Key Vault reference it could not resolve.
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


class UnresolvedReference(MvdError):
    """A secret setting still holds its ``@Microsoft.KeyVault(...)`` reference: App Service
    could not read the secret (likely right after deployment, before the app's vault role
    applies). Only what needs that secret fails, with this 503."""

    status = 503

    def __init__(self, names: list[str]) -> None:
        self.names = names
        subject = f"{names[0]} is" if len(names) == 1 else f"{', '.join(names)} are"
        super().__init__(
            f"{subject} an unresolved Key Vault reference: App Service could not read the secret. Check that "
            "the secret exists in the vault and that the app's identity may read it (Key Vault Secrets User; "
            "a new role assignment can take minutes to apply), then restart the app"
        )


def is_key_vault_reference(value: object) -> bool:
    return isinstance(value, str) and value.lstrip().startswith(KEY_VAULT_REFERENCE)


def require_resolved_environment(*names: str) -> None:
    """``UnresolvedReference`` if any of these environment variables (read by a library, such
    as boto3's ``AWS_*``) still holds a Key Vault reference."""
    unresolved = [name for name in names if is_key_vault_reference(os.environ.get(name))]
    if unresolved:
        raise UnresolvedReference(unresolved)


class _Unresolved:
    """Stands for a secret setting's unresolved Key Vault reference until validation drops it."""


_UNRESOLVED = _Unresolved()


class _EnvSource(EnvSettingsSource):
    """The environment, except that a secret setting holding a Key Vault reference is not
    parsed (a JSON setting would not decode): it is marked, and left unset."""

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if field_name in SECRET_FIELDS and is_key_vault_reference(value):
            return _UNRESOLVED
        return super().prepare_field_value(field_name, field, value, value_is_complex)


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (a short token, a secret) never reaches an error or a log.
    model_config = SettingsConfigDict(env_prefix="MVD_", extra="ignore", hide_input_in_errors=True)

    home: Path = Field(Path(".mvd"), description="State directory: engine DB, local vault, clusters, DID files.")
    cache_dir: Path | None = Field(
        None, description="Cache shared by every state directory (the assembled EDC runtimes); ~/.cache/mvd when unset."
    )
    runtime_ports: str | None = Field(
        None,
        description="LOW-HIGH: the ports new EDC runtimes of the embedded targets are given (both included), e.g. "
        "20000-24999 for one of two control planes on a machine; unset: 20000-29999, or what of it lies below "
        "the kernel's ephemeral range.",
    )
    dataspace_file: Path | None = Field(None, description="Blueprint YAML; the packaged default when unset.")
    targets: Literal["embedded", "simulated", "declared"] = Field(
        "embedded",
        description="embedded: each participant's EDC runtimes as processes on this machine, file vault, "
        "DIDs served locally. simulated: the same with simulated Kubernetes clusters instead of runtimes "
        "(fast tests of plan, drift and orchestration). declared: the clusters, vaults and DID hosts the "
        "blueprint declares.",
    )
    host: str = Field("127.0.0.1", description="Address `mvd serve` binds to.")
    port: int = Field(7080, description="Port `mvd serve` listens on.")
    public_url: str | None = Field(
        None, description="Base URL others reach `mvd serve` at; http://host:port when unset."
    )
    api_token: SecretStr | None = Field(None, description="Bearer token for mutating API calls (local host).")
    anonymous_reads: bool | None = Field(
        None,
        description="Whether GET /api/... of `mvd serve` works without the API token: unset means only while "
        "it listens on loopback; true always; false never.",
    )
    allow_http_loopback: bool = Field(False, description="Let the did:web resolver use plain HTTP for loopback hosts.")
    allow_private_hosts: bool = Field(False, description="Let the did:web resolver reach private/loopback addresses.")
    onboarding: Literal["open", "invite", "closed"] = Field(
        "open",
        description="Who may join the dataspace (POST /api/participants): open = anyone presenting a did:web DID "
        "that passes the checks (the public dataspace); invite = only with a single-use token from `mvd invite`; "
        "closed = nobody.",
    )
    onboarding_rate_limit: int = Field(
        10, ge=1, description="Join attempts one source address may make per MVD_ONBOARDING_RATE_WINDOW_SECONDS."
    )
    onboarding_rate_window_seconds: int = Field(3600, ge=1, description="The window of the join rate limit.")
    onboarding_max_participants: int = Field(
        20, ge=0, description="How many onboarded participants the dataspace holds at once (until the next reset)."
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description='JSON object source -> HMAC secret, e.g. {"github": "..."}.'
    )
    webhook_tolerance_seconds: int = Field(300, ge=1, description="Max clock skew of a webhook's timestamp.")
    command_queue: str = Field("mvd-commands", description="Storage queue the commands go through.")
    reset_schedule: str | None = Field(
        None,
        description="NCRONTAB (6 fields) of the nightly reset on both hosts (the local scheduler and the "
        "Functions timer), replacing the blueprint's schedule.reset in its schedule.timezone (UTC on Azure); "
        "the blueprint's when unset.",
    )
    storage_connection: SecretStr | None = Field(
        None, description="Azure Storage connection string for the command queue (Functions: AzureWebJobsStorage)."
    )
    storage_account: str | None = Field(
        None,
        description="Storage account name for the command queue and run registry, reached with the "
        "managed identity (DefaultAzureCredential) when MVD_STORAGE_CONNECTION is unset; infra/ sets it "
        "on Azure, where the account has no keys.",
    )
    azure_storage_connection_string: SecretStr | None = Field(
        None,
        description="Connection string for Azure Blob DID hosts (Azurite, development); "
        "DefaultAzureCredential against the host's account when unset.",
    )
    azure_subscription_id: str | None = Field(None, description="Subscription for participants' AKS and vaults.")
    azure_arm_url: str = Field(
        "https://management.azure.com", description="Azure Resource Manager endpoint used for resource groups and AKS."
    )
    aks_poll_seconds: float = Field(20.0, description="Seconds between polls of a long-running AKS create or delete.")
    cloudflare_api_token: SecretStr | None = Field(None, description="Token for Cloudflare cache purges.")
    cloudflare_api_url: str = Field("https://api.cloudflare.com/client/v4", description="Cloudflare API base URL.")
    r2_access_key_id: SecretStr | None = Field(None, description="R2 S3-API access key id.")
    r2_secret_access_key: SecretStr | None = Field(None, description="R2 S3-API secret key.")
    sim_ready_delay: float = Field(0.2, description="Seconds until a simulated Deployment is ready / Job completes.")
    sim_error_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of simulated-cluster API requests answered with an injected 500/503 (fault testing).",
    )
    sim_latency_seconds: float = Field(
        0.0, ge=0.0, description="Latency added to every simulated-cluster API request (fault testing)."
    )
    sim_fault_seed: int | None = Field(
        None, description="Seed for the simulated cluster's fault draws, so a fault run can be replayed exactly."
    )
    notify_url: str | None = Field(
        None,
        description="Where each failed run is POSTed (JSON, signed like an incoming webhook with "
        "MVD_NOTIFY_SECRET); no notification when unset.",
        pattern=r"^https?://[^\s/?#]+[^\s]*$",
    )
    notify_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 secret that signs the run notifications (at least 16 characters)."
    )
    log_level: str = Field("INFO", description="Log level.")
    log_format: Literal["console", "json"] = Field("console", description="Log record format.")

    _unresolved: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvSource(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="wrap")
    @classmethod
    def _unresolved_references(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        marked = {k for k, v in data.items() if v is _UNRESOLVED} if isinstance(data, dict) else set()
        settings = handler({k: v for k, v in data.items() if k not in marked} if marked else data)
        settings._unresolved = frozenset(marked)
        return settings

    def require_resolved(self, *fields: str) -> None:
        """``UnresolvedReference`` (503) naming each of these secret settings that holds an
        unresolved Key Vault reference: checked where the secret is used, so the rest works."""
        unresolved = [env_name(f) for f in fields if f in self._unresolved]
        if unresolved:
            raise UnresolvedReference(unresolved)

    @property
    def unresolved(self) -> list[str]:
        """The secret settings left unset because their Key Vault reference is unresolved."""
        return sorted(env_name(f) for f in self._unresolved)

    @field_validator("runtime_ports")
    @classmethod
    def _port_range(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = re.fullmatch(r"\s*(\d{1,5})\s*-\s*(\d{1,5})\s*", value)
        if match is None or not 1024 <= int(match[1]) <= int(match[2]) <= 65535:
            raise ValueError("the runtime ports are not LOW-HIGH with 1024 <= LOW <= HIGH <= 65535")
        return f"{int(match[1])}-{int(match[2])}"

    @property
    def runtime_port_range(self) -> range | None:
        """``runtime_ports`` as a range (HIGH included), None when unset."""
        if self.runtime_ports is None:
            return None
        low, high = (int(part) for part in self.runtime_ports.split("-"))
        return range(low, high + 1)

    @field_validator("api_token")
    @classmethod
    def _strong_api_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_api_token(value.get_secret_value())
        return value

    @field_validator("notify_secret")
    @classmethod
    def _strong_notify_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(f"the notification secret is empty or shorter than {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _strong_webhook_secrets(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        seen: dict[str, str] = {}
        for source, secret in value.items():
            if not re.fullmatch(WEBHOOK_SOURCE_PATTERN, source):
                raise ValueError(
                    f"source {source[:64]!r} is not a source name "
                    "(lowercase letters, digits, '-' and '_', up to 63, starting with a letter or digit)"
                )
            raw = secret.get_secret_value()
            if len(raw.strip()) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"the secret of source {source!r} is empty or shorter than {MIN_SECRET_LENGTH} characters"
                )
            if raw in seen:
                raise ValueError(
                    f"sources {seen[raw]!r} and {source!r} share one secret; give each its own "
                    "(a delivery signed for one would be accepted by the other)"
                )
            seen[raw] = source
        return value

    @property
    def base_url(self) -> str:
        """Where `mvd serve` is reached: the API, the dashboard and local DID documents.
        Unset MVD_PUBLIC_URL: http://MVD_HOST:MVD_PORT, with an IPv6 address in brackets and a
        bind to every interface (0.0.0.0, ::) reached as localhost."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host.strip("[]")
        if host in ("0.0.0.0", "::", ""):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each refused environment variable and why (never its value)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    fields = ", ".join(prefix + "_".join(str(p) for p in e["loc"]).upper() + f" ({e['msg']})" for e in exc.errors())
    return f"invalid settings: {fields}"


def check_api_token(token: str) -> None:
    """ValueError (saying the rule, never the token) unless ``token`` is a usable API token."""
    if len(token) < MIN_SECRET_LENGTH or not BEARER_TOKEN.fullmatch(token):
        raise ValueError(
            f"the API token must be at least {MIN_SECRET_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / "
            "(optionally ending in '='), with no spaces"
        )


def _field_of_settings(name: str) -> Any:
    """``Settings``' field ``name`` (its default and description) for a narrower model."""
    return Settings.model_fields[name]


class IndexingSettings(BaseSettings):
    """The few settings the Functions app needs while it is indexed (queue names, the timer's
    schedule), the same fields as ``Settings``'. None is a secret: a secret App Service cannot
    resolve, or a refused one, never stops indexing; it fails where it is used."""

    model_config = SettingsConfigDict(env_prefix="MVD_", extra="ignore", hide_input_in_errors=True)

    command_queue: str = _field_of_settings("command_queue")
    reset_schedule: str | None = _field_of_settings("reset_schedule")
    dataspace_file: Path | None = _field_of_settings("dataspace_file")


class LogSettings(BaseSettings):
    """MVD_LOG_LEVEL and MVD_LOG_FORMAT alone: the Functions app configures logging from them
    when it is indexed, before any other setting is read."""

    model_config = SettingsConfigDict(env_prefix="MVD_", extra="ignore", hide_input_in_errors=True)

    log_level: str = _field_of_settings("log_level")
    log_format: Literal["console", "json"] = _field_of_settings("log_format")


def env_name(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


# The settings that hold secrets (App Service may leave a Key Vault reference in them).
SECRET_FIELDS = frozenset(name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation))


def env_names() -> set[str]:
    """Every environment variable name the settings read (used by the infra cross-check)."""
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}
