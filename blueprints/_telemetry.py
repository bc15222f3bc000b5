"""The app's log records to Application Insights through OpenTelemetry, as Microsoft documents
for Python Functions ("Use OpenTelemetry with Azure Functions": host.json ``telemetryMode``
``OpenTelemetry``, the app setting ``PYTHON_ENABLE_OPENTELEMETRY=true``, and
``configure_azure_monitor()`` in the app). The worker forwards only a record's message to the
host; exported here, a record's run id, participant and step become customDimensions.

Not ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY``: with it the worker configures the distro
on the root logger itself, and every record would go out a second time, unredacted.
"""

from __future__ import annotations

import logging

from azure.core.credentials import TokenCredential
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mvd_core.logs import export_records, get_logger

log = get_logger(__name__)

# configure_azure_monitor's handler goes on this logger, which only export_records feeds.
EXPORT_LOGGER = "mvd_export"


class TelemetrySettings(BaseSettings):
    """The Functions host's own Application Insights settings (no MVD_ prefix)."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    applicationinsights_connection_string: SecretStr | None = None
    # "Authorization=AAD" (system-assigned identity) or "Authorization=AAD;ClientId=<id>"
    applicationinsights_authentication_string: str | None = None


def _credential(authentication: str | None) -> TokenCredential | None:
    """The app's managed identity when the host authenticates with Entra ID (the resource
    accepts nothing else with local authentication off); ValueError for another scheme."""
    if not authentication:
        return None
    fields = dict(part.split("=", 1) for part in authentication.split(";") if "=" in part)
    if fields.get("Authorization", "").upper() != "AAD":
        raise ValueError(
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: only Authorization=AAD[;ClientId=<id>] is supported"
        )
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=fields.get("ClientId") or None)


def export_to_application_insights() -> bool:
    """Export the app's log records when APPLICATIONINSIGHTS_CONNECTION_STRING is set. A
    setting that cannot work logs one warning naming it, never its value, and the app goes on
    without the export (records still reach the worker's log stream)."""
    chosen = TelemetrySettings()
    if chosen.applicationinsights_connection_string is None:
        return False
    # Imported only here: the distro loads OpenTelemetry and its instrumentations, which only
    # an app that exports needs.
    from azure.monitor.opentelemetry import configure_azure_monitor

    try:
        credential = _credential(chosen.applicationinsights_authentication_string)
    except ValueError as exc:
        log.warning("no export to Application Insights: %s", exc)
        return False
    try:
        configure_azure_monitor(
            connection_string=chosen.applicationinsights_connection_string.get_secret_value(),
            credential=credential,
            logger_name=EXPORT_LOGGER,
            enable_live_metrics=False,
        )
    except ValueError as exc:
        # The exporter's messages name the rule, never the value ("Invalid instrumentation key...").
        log.warning("no export to Application Insights: APPLICATIONINSIGHTS_CONNECTION_STRING is invalid (%s)", exc)
        return False
    except Exception as exc:  # noqa: BLE001 (an app that cannot export still has to index)
        log.warning("no export to Application Insights: configuring it failed (%s)", type(exc).__name__)
        return False
    export_records(logging.getLogger(EXPORT_LOGGER))
    return True
