"""etcd and a real kube-apiserver on loopback, with the identities and kubeconfigs of the lab's cluster.

The API server runs as kubeadm configures it where it matters to egdoctor: client-certificate and token
authentication, ``Node,RBAC`` authorization, the default admission plugins, service-account tokens, the
aggregated discovery it serves by default. Without a controller manager, the lab's controllers
(``kubelet.py``, ``cloud.py``) do what those controllers would do for the objects egdoctor reads.
"""

from __future__ import annotations

import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from egdoctor_lab.datapath.procs import ManagedProcess

from .pki import ClusterPki, KeyPair

READY_TIMEOUT = 90.0
SERVICE_CIDR = "10.96.0.0/16"


class ControlPlaneError(RuntimeError):
    """etcd or the API server did not come up; the message carries the log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Identity:
    """One kubeconfig user: a client certificate (``cert``) or a bearer token."""

    name: str
    kubeconfig: Path
    cert: KeyPair | None = None
    token: str | None = None


@dataclass
class ControlPlane:
    directory: Path
    host: str = "127.0.0.1"
    pki: ClusterPki = field(init=False)
    url: str = field(init=False)
    identities: dict[str, Identity] = field(default_factory=dict)
    _procs: list[ManagedProcess] = field(default_factory=list)

    def start(self, binaries: dict[str, Path], pod_facing: tuple[str, ...] = ()) -> None:
        """``pod_facing``: host addresses pods reach the API server at (it listens on all addresses, as
        an API server does, and its certificate names them)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pki = ClusterPki(self.directory / "pki")
        pids = self.directory / "pids.json"
        etcd_url = f"http://{self.host}:{free_port(self.host)}"
        etcd = ManagedProcess(
            "etcd",
            [
                str(binaries["etcd"]),
                "--data-dir",
                str(self.directory / "etcd"),
                "--listen-client-url",
                etcd_url,
                "--listen-peer-url",
                f"http://{self.host}:{free_port(self.host)}",
            ],
            self.directory / "etcd.log",
            pids,
        )
        etcd.start()
        self._procs.append(etcd)
        self._wait_log(etcd, "etcd: ready")

        port = free_port(self.host)
        self.url = f"https://{self.host}:{port}"
        serving = self.pki.issue(
            "apiserver",
            "kube-apiserver",
            hosts=(
                self.host,
                *pod_facing,
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ),
            server=True,
        )
        to_kubelet = self.pki.issue(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",)
        )
        sa = self.pki.service_account_keys()
        tokens = self.directory / "pki" / "tokens.csv"
        support_token = secrets.token_urlsafe(24)
        tokens.touch(mode=0o600)
        # token,user,uid,"group1,group2": the static token file kube-apiserver reads at start.
        tokens.write_text(f'{support_token},support-token,support-token,"egdoctor:support"\n')
        apiserver = ManagedProcess(
            "kube-apiserver",
            [
                str(binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=0.0.0.0",
                f"--advertise-address={self.host}",
                f"--secure-port={port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self.pki.ca}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--kubelet-client-certificate={to_kubelet.cert}",
                f"--kubelet-client-key={to_kubelet.key}",
                f"--kubelet-certificate-authority={self.pki.ca}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true",
                # One API server and no kube-proxy: the `kubernetes` Service's endpoints would be loopback,
                # which Endpoints validation refuses.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--v=1",
            ],
            self.directory / "kube-apiserver.log",
            pids,
        )
        apiserver.start()
        self._procs.append(apiserver)
        admin = self.add_cert_identity("admin", "kubernetes-admin", ("system:masters",))
        self._wait_ready(apiserver, admin)
        self.identities["support-token"] = self._write_token_kubeconfig("support-token", support_token)

    def add_cert_identity(
        self, name: str, user: str, groups: tuple[str, ...] = (), server: str | None = None
    ) -> Identity:
        pair = self.pki.issue(f"user-{name}", user, groups)
        identity = Identity(name, self.directory / f"kubeconfig-{name}", cert=pair)
        user_entry = {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
        self._write_kubeconfig(identity, user_entry, server)
        self.identities[name] = identity
        return identity

    def _write_token_kubeconfig(self, name: str, token: str) -> Identity:
        identity = Identity(name, self.directory / f"kubeconfig-{name}", token=token)
        self._write_kubeconfig(identity, {"token": token})
        return identity

    def _write_kubeconfig(self, identity: Identity, user: dict[str, str], server: str | None = None) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lab-real",
                    "cluster": {"server": server or self.url, "certificate-authority": str(self.pki.ca)},
                }
            ],
            "users": [{"name": identity.name, "user": user}],
            "contexts": [{"name": identity.name, "context": {"cluster": "lab-real", "user": identity.name}}],
            "current-context": identity.name,
        }
        identity.kubeconfig.touch(mode=0o600)
        identity.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))

    def _wait_log(self, proc: ManagedProcess, marker: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ControlPlaneError(f"{proc.name} exited:\n{proc.log_tail()}")
            if marker in proc.log_tail(200):
                return
            time.sleep(0.1)
        raise ControlPlaneError(f"{proc.name} not ready after {READY_TIMEOUT:g} s:\n{proc.log_tail()}")

    def _wait_ready(self, proc: ManagedProcess, admin: Identity) -> None:
        assert admin.cert is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(str(admin.cert.cert), str(admin.cert.key))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ControlPlaneError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2, context=context) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        raise ControlPlaneError(f"{proc.name} not ready after {READY_TIMEOUT:g} s:\n{proc.log_tail()}")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.stop(grace=10.0)
        self._procs.clear()
