"""Throwaway certificates for the lab's HTTPS listeners (trustme)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ListenerCertificate:
    """PEM files on disk: the CA a client should trust, and the chain and key Envoy serves."""

    ca_pem: Path
    cert_chain_pem: Path
    key_pem: Path
    hostnames: tuple[str, ...]


def make_certificate(
    directory: Path, hostnames: list[str] | tuple[str, ...], stem: str = "listener"
) -> ListenerCertificate:
    """Issue a leaf for ``hostnames`` from a fresh trustme CA and write the PEM files into ``directory``."""
    import trustme  # imported here so that the lab runs without it when no HTTPS listener is planned

    if not hostnames:
        raise ValueError("a certificate needs at least one hostname")
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="egdoctor lab", organization_unit_name="data-path lab CA")
    leaf = ca.issue_cert(*hostnames)
    ca_path = directory / f"{stem}-ca.pem"
    chain_path = directory / f"{stem}-chain.pem"
    key_path = directory / f"{stem}-key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    chain_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_path))
    key_path.chmod(0o600)
    return ListenerCertificate(ca_path, chain_path, key_path, tuple(hostnames))
