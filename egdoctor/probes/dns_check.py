"""Do the listener and route hostnames resolve where the client-IP mode needs them to?

Direct mode: clients must reach the Gateway's load balancer itself (EGD502 otherwise). XFF mode: clients
must reach the edge proxy (CDN/WAF), which forwards to the load balancer; a name that resolves straight to
the load balancer lets clients bypass it (EGD503). The addresses an XFF-mode name resolves to are where
the edge proxy listens, so they become the targets of the through-the-edge probes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef
from egdoctor.model.topology import ListenerView
from egdoctor.probes.model import ProbeRow
from egdoctor.probes.plan import GatewayTargets


@dataclass(frozen=True)
class Resolution:
    name: str
    addresses: tuple[str, ...]
    error: str | None = None
    definitive: bool = True  # False: resolver trouble (timeout, SERVFAIL), not an answer about the name
    elapsed_s: float = 0.0
    # the server contradicted itself (addresses for one type, NXDOMAIN for the other): the addresses stand,
    # and this says what it claimed
    inconsistency: str | None = None


def make_resolver(server: tuple[str, int] | None, timeout: float) -> dns.resolver.Resolver:
    if server is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def resolve(name: str, resolver: dns.resolver.Resolver) -> Resolution:
    """Both A and AAAA are asked even after an NXDOMAIN: a server that answers one type and denies the
    name for the other contradicts itself, and the addresses it did give are where clients go."""
    start = time.monotonic()
    addresses: list[str] = []
    answered_empty = 0
    nxdomain: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            nxdomain.append(rdtype)
            continue
        except dns.resolver.NoAnswer:
            answered_empty += 1
            continue
        except dns.resolver.NoNameservers as exc:
            return Resolution(
                name, tuple(addresses), f"no server answered ({exc})", False, time.monotonic() - start
            )
        except dns.exception.Timeout:
            return Resolution(
                name,
                tuple(addresses),
                f"no answer within {resolver.lifetime:g}s",
                False,
                time.monotonic() - start,
            )
        except dns.exception.DNSException as exc:
            return Resolution(name, tuple(addresses), f"DNS error: {exc}", False, time.monotonic() - start)
        addresses.extend(r.address for r in answer if hasattr(r, "address"))
    elapsed = time.monotonic() - start
    if nxdomain and addresses:
        answered = "A" if "A" not in nxdomain else "AAAA"
        contradiction = (
            f"the DNS server contradicts itself: it answered {answered} records but NXDOMAIN "
            f"(no such name) to the {nxdomain[0]} query"
        )
        return Resolution(name, tuple(dict.fromkeys(addresses)), None, True, elapsed, contradiction)
    if nxdomain:
        return Resolution(name, (), "NXDOMAIN (the name does not exist)", True, elapsed)
    if not addresses and answered_empty == 2:
        return Resolution(name, (), "no A or AAAA record", True, elapsed)
    return Resolution(name, tuple(dict.fromkeys(addresses)), None, True, elapsed)


@dataclass(frozen=True)
class DnsOutcome:
    rows: tuple[ProbeRow, ...]
    findings: tuple[Finding, ...]
    edges: tuple[tuple[str, str, ListenerView], ...]  # (hostname, address, listener): XFF-mode edge proxies
    notes: tuple[str, ...]


def check_names(
    gt: GatewayTargets, resolutions: Sequence[tuple[str, ListenerView, Resolution]], resolver_label: str
) -> DnsOutcome:
    rows: list[ProbeRow] = []
    findings: list[Finding] = []
    edges: list[tuple[str, str, ListenerView]] = []
    notes: list[str] = []
    key = gt.key
    subject = ObjectRef("Gateway", key[0], key[1])
    lb = set(gt.view.addresses) | set(gt.addresses)
    lb_text = ", ".join(sorted(lb)) or "none"
    for name, lv, res in resolutions:
        gref = GatewayRef(key[0], key[1], lv.name)
        sent = f"DNS A/AAAA {name}" + (f" @{resolver_label}" if resolver_label else "")
        # only a consistent XFF setup has an edge proxy that DNS should lead to
        xff_mode = lv.client_ip.mode == "xff"
        evidence = {"hostname": name, "resolved": list(res.addresses), "gatewayAddresses": sorted(lb)}

        def row(
            received: str, proves: str, verdict: str, lv: ListenerView = lv, sent: str = sent, res: Any = res
        ) -> None:
            rows.append(_row(gt, lv, sent, "dns", received, proves, verdict, res.elapsed_s))

        if res.error is not None and not res.addresses:
            if res.definitive:
                findings.append(
                    make_finding(
                        "EGD501", subject, gref, evidence, hostname=name, reason=res.error, addresses=lb_text
                    )
                )
                row(res.error, f"{name} does not resolve: clients cannot reach it", "bad")
            else:
                notes.append(f"DNS for {name} not checked: {res.error}")
                row(res.error, "inconclusive: the resolver did not answer", "info")
            continue
        got = ", ".join(res.addresses)
        if res.inconsistency:
            notes.append(f"DNS for {name}: {res.inconsistency}; the addresses it gave are used")
            evidence["inconsistency"] = res.inconsistency
        at_lb = [a for a in res.addresses if a in lb]
        elsewhere = [a for a in res.addresses if a not in lb]
        if xff_mode:
            if at_lb:
                findings.append(
                    make_finding("EGD503", subject, gref, evidence, hostname=name, addresses=", ".join(at_lb))
                )
                row(got, "resolves straight to the load balancer: clients bypass the edge proxy", "bad")
            else:
                row(got, "resolves to an edge proxy (not the load balancer), as XFF mode needs", "ok")
            edges.extend((name, a, lv) for a in elsewhere)
        elif elsewhere and lb:
            findings.append(
                make_finding(
                    "EGD502", subject, gref, evidence, hostname=name, resolved=got, addresses=lb_text
                )
            )
            row(got, f"resolves away from the load balancer ({lb_text})", "bad")
        else:
            row(got, "resolves to the Gateway's load balancer", "ok")
    return DnsOutcome(tuple(rows), tuple(findings), tuple(edges), tuple(notes))


def _row(
    gt: GatewayTargets,
    lv: ListenerView,
    sent: str,
    outcome: str,
    received: str,
    proves: str,
    verdict: str,
    elapsed: float,
) -> ProbeRow:
    return ProbeRow(
        gateway=gt.key,
        address="",
        port=None,
        listener=lv.name,
        sent=sent,
        outcome=outcome,
        received=received,
        proves=proves,
        elapsed_s=elapsed,
        verdict=verdict,  # type: ignore[arg-type]
        kind="dns",
    )
