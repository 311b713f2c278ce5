"""Which Secrets a Gateway's listeners may use, decided the way Gateway API decides it.

A listener's `tls.certificateRefs` may name a Secret in another namespace only when a ReferenceGrant in
that namespace lets Gateways of the Gateway's namespace refer to it (gateway-api
`apis/v1/gateway_types.go`, GatewayTLSConfig.CertificateRefs; `apis/v1beta1/referencegrant_types.go`:
`from` group/kind/namespace, `to` group/kind and an optional name). egdoctor follows such a reference
only where the grant permits it, and then reads that one Secret, never its whole namespace: whoever owns
a Gateway must not be able to make egdoctor read Secrets of a namespace they cannot read themselves.

Pure functions on raw objects, shared by the cluster reader and the TLS checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.snapshot.objects import as_list, dig

GATEWAY_API_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class CertificateRef:
    gateway_namespace: str
    namespace: str
    name: str

    @property
    def cross_namespace(self) -> bool:
        return self.namespace != self.gateway_namespace


def certificate_refs(gateways: Iterable[Mapping[str, Any]]) -> list[CertificateRef]:
    """The Secret references of every listener (other kinds are not Secrets egdoctor could read)."""
    out: list[CertificateRef] = []
    for gw in gateways:
        gns = dig(gw, "metadata", "namespace")
        if not isinstance(gns, str) or not gns:
            continue
        for listener in as_list(dig(gw, "spec", "listeners")):
            for ref in as_list(dig(listener, "tls", "certificateRefs")):
                if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref["name"]:
                    continue
                if (ref.get("kind") or "Secret") != "Secret" or (ref.get("group") or "") != "":
                    continue
                namespace = ref.get("namespace") or gns
                if isinstance(namespace, str):
                    found = CertificateRef(gns, namespace, ref["name"])
                    if found not in out:
                        out.append(found)
    return out


def grant_permits(
    grants: Iterable[Mapping[str, Any]], gateway_namespace: str, namespace: str, name: str
) -> bool:
    """A ReferenceGrant in `namespace` lets Gateways of `gateway_namespace` use Secret `name`."""
    for grant in grants:
        if dig(grant, "metadata", "namespace") != namespace:
            continue
        from_ok = any(
            isinstance(f, Mapping)
            and f.get("group") == GATEWAY_API_GROUP
            and f.get("kind") == "Gateway"
            and f.get("namespace") == gateway_namespace
            for f in as_list(dig(grant, "spec", "from"))
        )
        to_ok = any(
            isinstance(t, Mapping)
            and (t.get("group") or "") == ""
            and t.get("kind") == "Secret"
            and (not t.get("name") or t.get("name") == name)
            for t in as_list(dig(grant, "spec", "to"))
        )
        if from_ok and to_ok:
            return True
    return False
