"""A small authoritative DNS server on loopback (UDP), built on dnspython.

Answers A, AAAA and CNAME from a table, follows CNAMEs inside the table (as an authoritative
server does), answers NXDOMAIN with the zone's SOA for unknown names inside its zones, NODATA
for known names without the asked type, and REFUSED for names outside its zones. A few lines of
dnspython keep CI from needing another system package.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Mapping, Sequence

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

_TTL = 5
_MAX_CNAME_HOPS = 8


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


class DnsTable:
    """Resolved records: name -> list of IP strings, or a single CNAME target."""

    def __init__(
        self,
        records: Mapping[str, Sequence[str]],
        zones: Sequence[str],
        contradictions: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        # name -> query types answered NXDOMAIN although the name exists: a server (or a split-horizon
        # setup) that contradicts itself
        self.contradictions = {_norm(n): {t.upper() for t in ts} for n, ts in (contradictions or {}).items()}
        self.addresses: dict[str, list[str]] = {}
        self.cnames: dict[str, str] = {}
        for raw_name, values in records.items():
            name = _norm(raw_name)
            ips, others = [], []
            for value in values:
                try:
                    ips.append(str(ipaddress.ip_address(value)))
                except ValueError:
                    others.append(_norm(value))
            if others and (ips or len(others) > 1):
                raise ValueError(f"{raw_name}: a CNAME must be the only value, got {list(values)}")
            if others:
                self.cnames[name] = others[0]
            else:
                self.addresses[name] = ips
        self.zones = sorted({_norm(z) for z in zones}, key=len, reverse=True)

    def zone_of(self, name: str) -> str | None:
        for zone in self.zones:
            if name == zone or name.endswith("." + zone):
                return zone
        return None

    def _lookup(self, name: str) -> tuple[str, list[str] | str] | None:
        if name in self.cnames:
            return name, self.cnames[name]
        if name in self.addresses:
            return name, self.addresses[name]
        labels = name.split(".")
        for i in range(1, len(labels)):
            wildcard = "*." + ".".join(labels[i:])
            if wildcard in self.cnames:
                return wildcard, self.cnames[wildcard]
            if wildcard in self.addresses:
                return wildcard, self.addresses[wildcard]
        return None

    def exists(self, name: str) -> bool:
        return self._lookup(name) is not None

    def resolve(self, name: str) -> tuple[list[tuple[str, str]], list[str], str, bool]:
        """Follow CNAMEs: the (owner, target) chain, the final addresses, the final name, and
        whether that final name exists in the table."""
        chain: list[tuple[str, str]] = []
        current = name
        for _ in range(_MAX_CNAME_HOPS):
            found = self._lookup(current)
            if found is None:
                return chain, [], current, False
            value = found[1]
            if isinstance(value, str):
                chain.append((current, value))
                current = value
                continue
            return chain, value, current, True
        return chain, [], current, True


class DnsServer:
    def __init__(self, table: DnsTable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.table = table
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queries = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lab-dns", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        self._sock.close()

    def _loop(self) -> None:
        # Bounded by the stop event; each recv waits at most the socket timeout.
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.answer(wire)
            if reply is not None:
                try:
                    self._sock.sendto(reply, peer)
                except OSError:
                    continue

    def answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # any undecodable datagram is dropped, as real servers do
            return None
        self.queries += 1
        response = dns.message.make_response(query)
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        qname = _norm(question.name.to_text())
        zone = self.table.zone_of(qname)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        soa = dns.rrset.from_text(
            zone + ".", _TTL, "IN", "SOA", f"ns.{zone}. hostmaster.{zone}. 1 60 30 600 {_TTL}"
        )
        denied = dns.rdatatype.to_text(question.rdtype) in self.table.contradictions.get(qname, set())
        if denied or not self.table.exists(qname):
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(soa)
            return response.to_wire()
        chain, addresses, final, final_exists = self.table.resolve(qname)
        for owner, target in chain:
            response.answer.append(dns.rrset.from_text(owner + ".", _TTL, "IN", "CNAME", target + "."))
        qtype = question.rdtype
        if qtype == dns.rdatatype.CNAME and chain:
            return response.to_wire()
        by_type: dict[str, list[str]] = {}
        for ip in addresses:
            rtype = "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"
            if qtype == dns.rdatatype.ANY or dns.rdatatype.from_text(rtype) == qtype:
                by_type.setdefault(rtype, []).append(ip)
        for rtype, ips in by_type.items():
            response.answer.append(dns.rrset.from_text_list(final + ".", _TTL, "IN", rtype, ips))
        if by_type:
            return response.to_wire()
        # RFC 6604: the rcode describes the last name in the chain when the server owns its zone.
        if not final_exists and self.table.zone_of(final) is not None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(soa)
        return response.to_wire()
