"""The EDC runtime kinds the control plane assembles and runs, and the EDC release they are pinned to."""

from __future__ import annotations

from typing import Final, Literal, get_args

RuntimeKind = Literal["connector", "dataplane", "identityhub", "catalog"]
RUNTIME_KINDS: Final[tuple[RuntimeKind, ...]] = get_args(RuntimeKind)

# The newest release whose BOMs (control plane DCP, data plane, identity hub, federated catalog)
# are all on Maven Central; 0.16+ exist only as git tags. Must match <edc.version> in maven/pom.xml.
EDC_VERSION: Final = "0.15.1"
