"""Rows and findings of the plain and forged-PROXY probes to one port: what the load balancer sends
and what Envoy expects.
"""

from __future__ import annotations

from egdoctor.probes.discriminator import PortState, describe
from egdoctor.probes.judged import GatewayFindings, Judged, observed_ip
from egdoctor.probes.port_run import PortRun
from egdoctor.probes.wording import confirm_note, row


def discriminator_rows(
    j: Judged,
    gf: GatewayFindings,
    run: PortRun,
    state: PortState,
    ranges: tuple[str, ...],
    timeout: float,
    where: str,
    lname: str,
    proved: list[str],
    static: set[str],
) -> None:
    plain, forged = run.plain, run.forged
    assert plain is not None and plain.result is not None
    cip = run.target.client_ip
    https = run.target.protocol == "HTTPS"
    pr = plain.result
    got = describe(pr, timeout)
    obs = observed_ip(plain)
    st = state.state
    ms = f" (ttfb {pr.ttfb_s * 1000:.0f} ms)" if pr.ttfb_s is not None else ""
    if st == "refused-by-ranges":
        j.rows.append(
            row(
                plain,
                got,
                f"the load balancer refuses this machine ({plain.local}), which is outside "
                f"loadBalancerSourceRanges {', '.join(ranges)}",
                "ok" if cip.xff else "info",
            )
        )
        proved.append("the load balancer admits only its source ranges")
    elif st == "unreachable":
        j.rows.append(row(plain, got, "the Gateway address does not answer", "bad"))
        gf.add(
            "EGD601",
            lname,
            where,
            {"outcome": pr.outcome, "error": pr.error},
            target=f"{where} (listener {lname})",
            outcome=got,
        )
    elif st == "silent":
        j.rows.append(row(plain, got, "no usable answer to any request", "bad"))
        gf.add(
            "EGD601",
            lname,
            where,
            {"outcome": pr.outcome, "error": pr.error},
            target=f"{where} (listener {lname})",
            outcome=f"{got}, with and without a PROXY header (no healthy Envoy behind the load balancer?)",
        )
    elif st == "pp-unexpected":
        j.rows.append(
            row(
                plain,
                got + ms,
                "the load balancer puts a PROXY header in front and Envoy does not "
                "expect one" + (" (the TLS handshake breaks)" if https else ""),
                "bad",
            )
        )
        version = cip.lb_proxy if cip.lb_proxy in ("v1", "v2") else "v2"
        confirms = confirm_note("EGD305", static)
        if https:
            msg = (
                f"TLS handshakes on {where} fail with and without a PROXY header while the load balancer "
                f"Service asks Octavia for PROXY {version}: Envoy reads the PROXY header as the start of the "
                f"handshake{confirms}"
            )
        else:
            msg = (
                f"a plain request to {where} gets HTTP 400 from Envoy: the load balancer puts a PROXY header "
                "in front of every connection and Envoy does not expect one, so every client gets "
                f"400{confirms}"
            )
        gf.add(
            "EGD602",
            lname,
            where,
            {"plain": pr.outcome, "status": pr.status},
            message=msg,
            fix="add a ClientTrafficPolicy with proxyProtocol: {optional: false} targeting the Gateway "
            "(direct mode), or remove loadbalancer.openstack.org/proxy-protocol from the Envoy Service "
            "(XFF mode)",
        )
        proved.append("Envoy rejects the load balancer's PROXY header")
    elif st == "pp-missing":
        j.rows.append(
            row(
                plain,
                got,
                "Envoy expects a PROXY header and the load balancer does not add one: "
                "ordinary clients are dropped",
                "bad",
            )
        )
        how = (
            "an empty reply"
            if pr.outcome == "empty"
            else ("a reset" if pr.outcome == "reset" else "a failed handshake")
        )
        gf.add(
            "EGD603",
            lname,
            where,
            {"plain": pr.outcome},
            message=(
                f"a plain request to {where} gets {how} while the same request behind a PROXY header is "
                "answered: Envoy expects PROXY protocol and the load balancer does not send it, so every "
                f"real client is dropped{confirm_note('EGD304', static)}"
            ),
            fix='set loadbalancer.openstack.org/proxy-protocol: "v2" on the Envoy Service (EnvoyProxy '
            "envoyService.annotations; the load balancer is recreated, see EGD314)",
        )
        proved.append("Envoy expects PROXY protocol that the load balancer does not send")
    elif st in ("accepts", "forgeable"):
        if cip.xff:
            proves = "Envoy answers requests that come straight to the load balancer"
        elif cip.proxy_protocol != "off" and cip.lb_sends_proxy:
            proves = "the load balancer's connection is accepted: Envoy parses its PROXY header"
        else:
            proves = "Envoy answers plain requests"
        if obs is not None:
            proves += f"; Envoy took {obs} as the client"
        j.rows.append(row(plain, got + ms, proves, "ok" if not cip.xff else "info", obs))
    else:
        j.rows.append(row(plain, got, "inconclusive", "info", obs))

    if forged is None or forged.result is None:
        return
    fr = forged.result
    fgot = describe(fr, timeout)
    fobs = observed_ip(forged)
    if st == "refused-by-ranges":
        j.rows.append(row(forged, fgot, "refused as well", "ok" if cip.xff else "info"))
    elif state.forged == "answered":
        taken = f": Envoy took the forged {fobs} as the client IP" if fobs else ""
        j.rows.append(
            row(
                forged,
                fgot,
                "a client-made PROXY header is honoured: any client can forge its IP",
                "bad",
                fobs,
            )
        )
        if cip.proxy_protocol == "optional" and st == "forgeable":
            fix = (
                "set proxyProtocol.optional: false in the ClientTrafficPolicy (with the load balancer "
                "sending PROXY v2, a client's own header then arrives second and is rejected)"
            )
        else:
            fix = (
                'make the load balancer send PROXY v2 (loadbalancer.openstack.org/proxy-protocol: "v2"): '
                "its header then comes first and a client's own header is rejected"
            )
        gf.add(
            "EGD604",
            run.target.listener.name,
            where,
            {"marker": forged.marker, "observed": fobs},
            message=(
                f"a PROXY v2 header this machine sent with the made-up source {forged.marker} was accepted "
                f"on {where}{taken}: any client that reaches the load balancer can forge its IP"
            ),
            fix=fix,
        )
        proved.append("a client-made PROXY header is honoured")
    elif state.forged == "rejected" or (
        https and state.forged == "dropped" and st in ("accepts", "forgeable")
    ):
        j.rows.append(row(forged, fgot, "a client cannot forge its IP with its own PROXY header", "ok"))
        if st in ("accepts", "forgeable"):
            proved.append("a client cannot forge its IP with a PROXY header")
    else:
        j.rows.append(row(forged, fgot, "as expected after the plain request", "info"))
