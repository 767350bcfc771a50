"""The audit trail: who did what to which device, and what came of it.

`Audit` (app.services.ports) is the callable services take; `AuditLog` is the object
that provides it (app.adapters.db.audit_repo.SqlAuditLog). Pass `log.audit`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from app.services.ports import Audit

__all__ = ["Audit", "AuditLog", "mask_secrets"]

_SECRET = re.compile(r"authorizationkey|password|secret|token_?key", re.IGNORECASE)
MASK = "***"


class AuditLog(Protocol):
    def audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        """Record one entry. Queues the write and returns at once; never raises."""
        ...


def mask_secrets(details: dict[str, Any]) -> dict[str, Any]:
    """A copy of details with values of secret-looking settings replaced by ***.

    Masks a value whose own key looks secret, and the `value` next to a `key` that does
    (change_configuration(key="AuthorizationKey", value=...)).
    """
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            secret_pair = isinstance(node.get("key"), str) and _SECRET.search(node["key"])
            out = {}
            for k, v in node.items():
                if (isinstance(k, str) and _SECRET.search(k) and not isinstance(v, dict)) or \
                        (secret_pair and k == "value"):
                    out[k] = MASK if v not in (None, "") else v
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list | tuple):
            return [walk(v) for v in node]
        return node

    return walk(details)
