"""TLS-terminating listeners, the Secrets their certificateRefs name, and the cert-manager Certificates
that write those Secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from egdoctor.findings.model import GatewayRef, ObjectRef
from egdoctor.model.topology import GatewayView, ListenerView, Topology
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map


@dataclass(frozen=True)
class SecretRef:
    """One listener certificateRef, with the namespace defaulted to the Gateway's."""

    namespace: str
    name: str
    kind: str
    group: str
    gateway_namespace: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Secret", self.namespace, self.name)

    @property
    def is_secret(self) -> bool:
        # Envoy Gateway insists on an empty group (internal/gatewayapi/validate.go)
        return self.kind == "Secret" and self.group == ""

    @property
    def cross_namespace(self) -> bool:
        return self.namespace != self.gateway_namespace

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def terminates_tls(lv: ListenerView) -> bool:
    """HTTPS listeners, and TLS listeners in Terminate mode, present a certificate from a Secret."""
    mode = as_map(lv.spec.get("tls")).get("mode", "Terminate")
    return lv.protocol == "HTTPS" or (lv.protocol == "TLS" and mode == "Terminate")


def tls_listeners(gv: GatewayView) -> list[ListenerView]:
    return [lv for lv in gv.listeners if terminates_tls(lv)]


def listener_secret_refs(lv: ListenerView) -> list[SecretRef]:
    gw_ns = lv.gateway_key[0]
    out = []
    for ref in as_list(as_map(lv.spec.get("tls")).get("certificateRefs")):
        if not isinstance(ref, Mapping):
            continue
        out.append(
            SecretRef(
                namespace=str(ref.get("namespace") or gw_ns),
                name=str(ref.get("name", "")),
                kind=str(ref.get("kind") or "Secret"),
                group=str(ref.get("group") or ""),
                gateway_namespace=gw_ns,
            )
        )
    return out


def certificates_for_secret(snapshot: Snapshot, ref: SecretRef) -> list[Obj]:
    return [
        c
        for c in snapshot.of("Certificate")
        if c.namespace == ref.namespace and c.spec.get("secretName") == ref.name
    ]


@dataclass(frozen=True)
class ListenerTLS:
    """One TLS-terminating listener with its Secrets and the Certificates that write them."""

    gateway: GatewayView
    listener: ListenerView
    secrets: tuple[SecretRef, ...]
    certificates: Mapping[SecretRef, tuple[Obj, ...]] = field(default_factory=dict)

    @property
    def where(self) -> GatewayRef:
        return GatewayRef(*self.gateway.key, self.listener.name)


def listeners_with_tls(snapshot: Snapshot, topology: Topology) -> list[ListenerTLS]:
    out = []
    for gv in topology.gateways.values():
        for lv in tls_listeners(gv):
            refs = tuple(listener_secret_refs(lv))
            certs = {r: tuple(certificates_for_secret(snapshot, r)) for r in refs if r.is_secret}
            out.append(ListenerTLS(gv, lv, refs, certs))
    return out
