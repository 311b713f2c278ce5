"""Certificates for the lab API server: a throwaway CA and a serving certificate for loopback."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class LabPki:
    """A fresh CA and a server certificate it signed; nothing here outlives the lab instance."""

    ca_pem: bytes
    server_chain_pem: bytes
    server_key_pem: bytes
    _server_cert: trustme.LeafCert

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca_pem)
        return path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # Go clients (kubectl) offer h2 first; announcing only http/1.1 makes them fall back cleanly.
        ctx.set_alpn_protocols(["http/1.1"])
        self._server_cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only the lab CA, for readiness probes."""
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return ctx


def create_pki(hosts: Sequence[str] = DEFAULT_HOSTS) -> LabPki:
    ca = trustme.CA(organization_name="egdoctor lab", organization_unit_name="lab API server CA")
    server = ca.issue_cert(*hosts, common_name="egdoctor-lab-apiserver")
    return LabPki(
        ca_pem=ca.cert_pem.bytes(),
        server_chain_pem=b"".join(blob.bytes() for blob in server.cert_chain_pems),
        server_key_pem=server.private_key_pem.bytes(),
        _server_cert=server,
    )
