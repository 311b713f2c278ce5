"""The lab as kube-proxy, in its old userspace mode, for the one ClusterIP Service pods need: EG's xDS.

Envoy's bootstrap names the ``envoy-gateway`` Service; the lab binds that Service's ClusterIP on the host
and relays each connection to the EG controller pod, as kube-proxy's userspace proxier did. The relay
copies bytes both ways and nothing else (the xDS stream is TLS end to end between Envoy and EG).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class ServiceRelay:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen = listen
        self.target = target
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(64)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="lab-service-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
