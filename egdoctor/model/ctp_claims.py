"""Which ClientTrafficPolicy configures each Gateway listener, and how much of it, as Envoy Gateway decides.

Read from envoyproxy/gateway ``internal/gatewayapi/clienttrafficpolicy.go`` (v1.9.1; v1.7 the same):

* Policies are processed oldest first (creationTimestamp, then name). A policy that targets a listener
  (``sectionName``) claims it before any Gateway-wide policy is looked at, and keeps the claim even when its
  own translation then fails: the Gateway-wide policy skips that listener (it reports ``Overridden``). A
  second policy for a claimed section, or a second Gateway-wide policy, is ``Conflicted`` and does nothing.
* Per listener, a claimant whose listener shares its port with other plain-HTTP listeners fails the
  port-overlap check and is not applied there at all ("is being applied to multiple http (non https)
  listeners ... on the same port").
* A claimant whose translation fails on a listener (TLS settings, timeouts, headers...) still applies its
  ``clientIPDetection`` there, but not ``proxyProtocol``, and every route of that listener answers HTTP 500.
  TLS settings only fail on listeners that terminate TLS; other errors fail every listener it claims.
* A Gateway-wide policy's failure on one listener does not stop it on the others.

The policy status says which of these happened (``Accepted=False`` with reason and message per ancestor),
so the outcome per listener is read from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions

GatewayKey = tuple[str, str]
Applied = Literal["all", "client-ip-detection-only", "nothing"]
PORT_OVERLAP = "is being applied to multiple http (non https) listeners"


@dataclass(frozen=True)
class ListenerClaim:
    """The policy that configures one listener and what of it takes effect."""

    ctp: Obj
    section: str | None  # the sectionName the claim came through, None for a Gateway-wide policy
    applied: Applied
    error: str | None = None  # the controller's message when not everything applies


def ancestor_status(ctp: Obj, key: GatewayKey, section: str | None) -> Mapping[str, Any] | None:
    """The status entry for exactly this target: a section's own entry, never the Gateway-wide one."""
    for anc in as_list(ctp.status.get("ancestors")):
        if not isinstance(anc, Mapping):
            continue
        ref = as_map(anc.get("ancestorRef"))
        if (str(ref.get("namespace") or ctp.namespace or ""), str(ref.get("name"))) != key:
            continue
        if (ref.get("sectionName") or None) != section:
            continue
        return anc
    return None


def _accepted(anc: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return conditions(anc).get("Accepted") if anc is not None else None


def _conflicted(anc: Mapping[str, Any] | None) -> bool:
    accepted = _accepted(anc)
    return (
        accepted is not None and accepted.get("status") == "False" and accepted.get("reason") == "Conflicted"
    )


def _outcome(anc: Mapping[str, Any] | None, terminates_tls: bool) -> tuple[Applied, str | None]:
    accepted = _accepted(anc)
    if accepted is None or accepted.get("status") != "False":
        return "all", None
    message = str(accepted.get("message") or "")
    if PORT_OVERLAP in message:
        return "nothing", message
    errors = [line for line in message.splitlines() if line.strip()]
    if errors and all(line.startswith("TLS:") for line in errors) and not terminates_tls:
        return "all", None  # TLS settings only fail where TLS is terminated
    return "client-ip-detection-only", message


def claim_listeners(
    targets: Iterable[tuple[Obj, GatewayKey, str | None]],
    key: GatewayKey,
    listeners: Sequence[tuple[str, bool]],
) -> dict[str, ListenerClaim]:
    """Listener name -> its claim, for the Gateway ``key`` whose listeners are (name, terminates TLS)."""
    mine = sorted(((c, s) for c, k, s in targets if k == key), key=lambda cs: (cs[0].creation, cs[0].name))
    tls = dict(listeners)
    claims: dict[str, ListenerClaim] = {}
    for ctp, section in mine:
        if section is None or section not in tls or section in claims:
            continue
        anc = ancestor_status(ctp, key, section)
        if _conflicted(anc):
            continue
        applied, error = _outcome(anc, tls[section])
        claims[section] = ListenerClaim(ctp, section, applied, error)
    for ctp, section in mine:
        if section is not None:
            continue
        anc = ancestor_status(ctp, key, None)
        if _conflicted(anc):
            continue
        for name, terminates in listeners:
            if name not in claims:
                applied, error = _outcome(anc, terminates)
                claims[name] = ListenerClaim(ctp, None, applied, error)
        break  # a later Gateway-wide policy is Conflicted
    return claims
