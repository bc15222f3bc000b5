"""How an Azure SDK error is told to a user: status and service error code, optionally the
first line of the service's message, never a token or key (redacted). A refusal (401/403)
names the action Azure checked and the role in infra/roles.tf that grants it, never a broad
built-in role: the control plane gets exactly what its code calls (README "Deploy to Azure")."""

from __future__ import annotations

import re

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

from mvd_core.logs import redact

# The control plane's roles in infra/roles.tf (their names start with var.name_prefix, "mvd"
# unless set), by the actions they grant; tests/infra/test_least_privilege.py checks each.
PARTICIPANTS_ROLE = "<name_prefix>-control-plane-participants"
RUNTIME_IDENTITIES_ROLE = "<name_prefix>-control-plane-runtime-identities"
DID_WEBSITE_ROLE = "<name_prefix>-control-plane-did-website"
DID_BLOBS_ROLE = "Storage Blob Data Contributor (did_blobs, $web only)"
_ROLES_BY_ACTION = (
    ("Microsoft.ManagedIdentity/", RUNTIME_IDENTITIES_ROLE),
    ("Microsoft.Authorization/roleAssignments/", RUNTIME_IDENTITIES_ROLE),
    ("Microsoft.Storage/storageAccounts/blobServices/containers/", DID_BLOBS_ROLE),
    ("Microsoft.Storage/storageAccounts/blobServices/", DID_WEBSITE_ROLE),
    ("Microsoft.Resources/", PARTICIPANTS_ROLE),
    ("Microsoft.ContainerService/", PARTICIPANTS_ROLE),
    ("Microsoft.KeyVault/", PARTICIPANTS_ROLE),
)
# ARM: "... does not have authorization to perform action 'X' over scope ..."; Key Vault: "Action: 'X'".
_ACTION = re.compile(r"(?:perform action|Action:)\s*'([A-Za-z]+\.[A-Za-z]+/[^']+)'")


def reason(exc: AzureError, *, message: bool = False) -> str:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = getattr(exc, "error_code", None) or (getattr(exc.error, "code", None) if exc.error is not None else None)
        code = getattr(code, "value", code)  # storage SDKs hand out error-code enums
        detail = f"HTTP {exc.status_code}" + (f" {code}" if code else "")
    else:
        detail = type(exc).__name__
    if not message:
        return detail
    first_line = (str(getattr(exc, "message", "") or exc).splitlines() or [""])[0][:200]
    return redact(f"{detail}: {first_line}" if first_line else detail)


def refused(exc: AzureError) -> bool:
    """Whether Azure refused the caller (no valid token, or no permission): 401/403."""
    return isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", None) in (401, 403)


def role_granting(action: str) -> str:
    """The role of infra/roles.tf that grants ``action`` to the control plane."""
    lowered = action.lower()
    return next((role for prefix, role in _ROLES_BY_ACTION if lowered.startswith(prefix.lower())), PARTICIPANTS_ROLE)


def missing_action(exc: AzureError) -> str | None:
    """The action a 403 names (ARM and Key Vault say which one they checked), if any."""
    error = getattr(exc, "error", None)
    text = " ".join(str(part) for part in (getattr(error, "message", None), getattr(exc, "message", None), exc) if part)
    found = _ACTION.search(text)
    return found.group(1) if found else None


def permission_hint(exc: AzureError, action: str | None = None) -> str:
    """What to grant after a refusal: the missing action and the project's role that has it."""
    action = missing_action(exc) or action
    if action is None:
        return (
            "the control plane's Azure identity lacks a permission: assign it the roles infra/roles.tf defines "
            f"({PARTICIPANTS_ROLE} on the participants' resource groups)"
        )
    return (
        f"the control plane's Azure identity lacks {action}: assign it {role_granting(action)} "
        "from infra/roles.tf on this scope"
    )
