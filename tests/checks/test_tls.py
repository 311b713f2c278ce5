"""EGD401-EGD406 and the TLS rows of the report, on the TLS lab scenarios loaded straight into a snapshot.

Condition reasons and messages in the scenarios are cert-manager's own: Certificate Ready reasons from
internal/controller/certificates/policies/constants.go and checks.go, CertificateRequest reasons from
pkg/apis/certmanager/v1/types_certificaterequest.go and pkg/controller/certificaterequests/acme/acme.go,
Challenge reasons from pkg/controller/acmechallenges/readiness.go, Issuer reasons from
pkg/issuer/acme/setup.go; which CertificateRequest belongs to a Certificate follows cmctl's
pkg/status/certificate/certificate.go (revision status.revision+1, owned by the Certificate).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from egdoctor.checks.engine import Diagnosis, run_checks
from egdoctor.checks.registry import Options
from egdoctor.checks.tls.acme_solvers import pick_solver
from egdoctor.checks.tls.host_coverage import san_covers, served_hostnames
from egdoctor.findings.model import Finding, Severity
from egdoctor.report.json_out import report_json
from egdoctor.report.tls_view import tls_rows
from egdoctor.report.view import Report
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import AccessProblem, Source
from egdoctor.snapshot.objects import Obj
from egdoctor_lab.scenario import load_scenario

TLS = ("EGD401", "EGD402", "EGD403", "EGD404", "EGD405", "EGD406")

Mutate = Callable[[list[dict[str, Any]]], None]


def diagnose(
    scenario: str,
    namespaces: Iterable[str] | None = None,
    mutate: Mutate | None = None,
    mode: str = "cluster",
    **options: Any,
) -> Diagnosis:
    """The scenario's objects as the cluster reader would hand them over (absent groups included)."""
    sc = load_scenario(scenario)
    objects = copy.deepcopy(sc.objects)
    if mutate:
        mutate(objects)
    settings = sc.lab_settings
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    problems = []
    for name, spec in KINDS.items():
        if spec.group in settings.absent_groups:
            problems.append(AccessProblem(name, "absent", "list", spec.plural, None, "not served"))
            del raw[name]
    for obj in objects:
        found = spec_for_object(obj["apiVersion"], obj["kind"])
        if found is not None and found.name in raw:
            raw[found.name].append(obj)
    raw["EnvoyService"] = derive_envoy_services(raw)
    scope = frozenset(namespaces) if namespaces is not None else None
    snap = assemble(raw, scope, Source(mode), problems, fetched=set(KINDS))
    return run_checks(snap, Options(**options))


def tls_findings(d: Diagnosis, code: str | None = None) -> list[Finding]:
    return [f for f in d.findings if f.code in TLS and (code is None or f.code == code)]


def on(d: Diagnosis, code: str, kind: str, name: str) -> list[Finding]:
    return [
        f
        for f in d.findings
        if f.code == code and f.subject and (f.subject.kind, f.subject.name) == (kind, name)
    ]


def drop(kind: str, name: str) -> Mutate:
    def go(objects: list[dict[str, Any]]) -> None:
        objects[:] = [o for o in objects if not (o["kind"] == kind and o["metadata"]["name"] == name)]

    return go


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


# -- names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("san", "host", "covered"),
    [
        ("team-a.example.com", "TEAM-A.example.com.", True),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", False),  # a certificate wildcard is one label
        ("*.example.com", "example.com", False),
        ("*.example.com", "*.example.com", True),
        ("a.example.com", "*.example.com", False),
        ("*.apps.example.com", "*.example.com", False),
    ],
)
def test_a_certificate_name_covers_a_host_as_tls_clients_check_it(san: str, host: str, covered: bool) -> None:
    assert san_covers(san, host) is covered


def test_served_names_are_the_listener_name_and_the_route_names_it_narrows_to() -> None:
    d = diagnose("tls-hostname-coverage")
    gv = d.topology.gateways[("gateway", "shared")]
    apps = gv.listener("https-apps")
    assert apps is not None
    assert set(served_hostnames(apps)) == {
        "*.apps.example.com",
        "shop.apps.example.com",
        "eu.shop.apps.example.com",
    }
    team_a = gv.listener("https-team-a")
    assert team_a is not None
    assert served_hostnames(team_a) == ("team-a.example.com",)


# -- healthy ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", ["tls-cert-manager-healthy", "tls-wildcard-dns01-healthy", "shared-direct-healthy"]
)
def test_healthy_tls_is_silent(scenario: str) -> None:
    assert tls_findings(diagnose(scenario)) == []


# -- EGD401 -----------------------------------------------------------------------------------------------


def test_each_unusable_secret_reference_is_named() -> None:
    d = diagnose("tls-secret-references")
    problems = {
        (f.subject.namespace, f.subject.name): f.message for f in tls_findings(d, "EGD401") if f.subject
    }
    assert set(problems) == {
        ("certs", "team-a-tls"),
        ("gateway", "team-b-tls"),
        ("gateway", "team-c-tls"),
        ("gateway", "team-d-tls"),
    }
    assert "no ReferenceGrant in certs lets Gateways from gateway use it" in problems[("certs", "team-a-tls")]
    assert "has type Opaque, not kubernetes.io/tls" in problems[("gateway", "team-b-tls")]
    assert problems[("gateway", "team-c-tls")].endswith("does not exist")
    assert "has no tls.key" in problems[("gateway", "team-d-tls")]
    f = on(d, "EGD401", "Secret", "team-a-tls")[0]
    assert f.gateway is not None and f.gateway.listener == "https-team-a"


def test_a_reference_grant_for_another_secret_does_not_count() -> None:
    def retarget(objects: list[dict[str, Any]]) -> None:
        find(objects, "ReferenceGrant", "gateway-reads-team-e-tls")["spec"]["to"][0]["name"] = "other"

    assert on(diagnose("tls-secret-references"), "EGD401", "Secret", "team-e-tls") == []
    assert on(diagnose("tls-secret-references", mutate=retarget), "EGD401", "Secret", "team-e-tls")


def test_grants_of_a_namespace_not_read_defer_to_envoy_gateways_verdict() -> None:
    def unread(objects: list[dict[str, Any]]) -> None:
        # as if certs were outside every namespace the reader listed ReferenceGrants in
        objects[:] = [o for o in objects if o["kind"] != "ReferenceGrant"]

    d = diagnose("tls-secret-references", namespaces=["team-e", "team-a"], mutate=unread)
    assert on(d, "EGD401", "Secret", "team-a-tls")  # its listener says RefNotPermitted
    assert on(d, "EGD401", "Secret", "team-e-tls") == []  # its listener is fine: no guessing


def test_a_dump_without_secrets_does_not_call_them_missing() -> None:
    def no_secrets(objects: list[dict[str, Any]]) -> None:
        objects[:] = [o for o in objects if o["kind"] != "Secret"]

    assert tls_findings(diagnose("tls-secret-references", mutate=no_secrets, mode="files"), "EGD401")
    missing = [
        f
        for f in tls_findings(diagnose("tls-secret-references", mutate=no_secrets, mode="files"), "EGD401")
        if "does not exist" in f.message
    ]
    assert missing == []
    on_cluster = diagnose("tls-secret-references", mutate=no_secrets)
    assert any("does not exist" in f.message for f in tls_findings(on_cluster, "EGD401"))


def test_a_missing_secret_points_at_the_certificate_that_should_write_it() -> None:
    d = diagnose("tls-http01-challenge-failing")
    (f,) = on(d, "EGD401", "Secret", "team-a-tls")
    assert "EGD403 for Certificate gateway/team-a-tls" in f.hint


# -- EGD402 -----------------------------------------------------------------------------------------------


def test_expired_and_not_yet_valid_are_errors_and_expiring_is_a_warning() -> None:
    d = diagnose("tls-certificate-validity")
    (expired,) = on(d, "EGD402", "Secret", "team-a-tls")
    (future,) = on(d, "EGD402", "Secret", "team-b-tls")
    (soon,) = on(d, "EGD402", "Secret", "team-c-tls")
    assert "expired on" in expired.message and expired.severity is Severity.ERROR
    assert "is not valid before" in future.message and future.severity is Severity.ERROR
    assert "expires on" in soon.message and soon.severity is Severity.WARNING


def test_the_warning_window_is_the_option() -> None:
    assert on(diagnose("tls-certificate-validity", cert_warn_days=3), "EGD402", "Secret", "team-c-tls") == []
    assert on(diagnose("tls-certificate-validity", cert_warn_days=30), "EGD402", "Secret", "team-c-tls")


def test_validity_is_judged_at_the_options_time() -> None:
    later = datetime.now(timezone.utc) + timedelta(days=365)
    d = diagnose("tls-cert-manager-healthy", now=later)
    assert {f.subject.name for f in tls_findings(d, "EGD402") if f.subject} == {"team-a-tls", "team-b-tls"}
    assert all("expired on" in f.message for f in tls_findings(d, "EGD402"))


def test_names_the_certificate_does_not_cover_and_self_signed() -> None:
    d = diagnose("tls-hostname-coverage")
    (wrong,) = on(d, "EGD402", "Secret", "team-a-tls")
    assert "does not cover team-a.example.com (it names www.example.org)" in wrong.message
    (wild,) = on(d, "EGD402", "Secret", "apps-tls")
    assert "does not cover eu.shop.apps.example.com" in wild.message
    assert "shop.apps.example.com," not in wild.message and "*.apps.example.com," not in wild.message
    (selfsigned,) = on(d, "EGD402", "Secret", "team-b-tls")
    assert "is self-signed" in selfsigned.message and selfsigned.severity is Severity.WARNING


# -- EGD403 -----------------------------------------------------------------------------------------------


def test_a_stuck_challenge_is_one_finding_on_the_certificate_with_the_challenge_reason() -> None:
    d = diagnose("tls-http01-challenge-failing")
    found = on(d, "EGD403", "Certificate", "team-a-tls")
    assert len(found) == 1
    f = found[0]
    assert "(team-a.example.com)" in f.message
    assert (
        "Challenge gateway/team-a-tls-1-3149851744-1047236702 for team-a.example.com (HTTP-01) is pending"
        in f.message
    )
    assert "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'" in f.message
    assert f.severity is Severity.ERROR
    assert f.evidence["failingLink"] == "Challenge"
    assert f.evidence["certificateRequest"]["name"] == "team-a-tls-1"
    assert f.evidence["order"]["state"] == "pending"
    assert "203.0.113.20" in f.hint  # where the name must resolve
    # nothing else reports the same stuck issuance under another code or object
    assert not [
        x for x in d.findings if x.subject and x.subject.kind in ("CertificateRequest", "Order", "Challenge")
    ]


def test_a_failed_order_is_named_by_its_invalid_challenge() -> None:
    (f,) = on(diagnose("tls-http01-challenge-failing"), "EGD403", "Certificate", "team-b-tls")
    assert "is invalid: Error accepting authorization" in f.message
    assert "Invalid response from http://team-b.example.com/.well-known/acme-challenge/" in f.message


def test_without_the_challenge_the_invalid_order_is_the_link() -> None:
    d = diagnose(
        "tls-http01-challenge-failing", mutate=drop("Challenge", "team-b-tls-1-2271532086-3316512946")
    )
    (f,) = on(d, "EGD403", "Certificate", "team-b-tls")
    assert "Order gateway/team-b-tls-1-2271532086 is invalid" in f.message


def test_without_order_the_request_is_the_link_and_without_request_the_certificate() -> None:
    d = diagnose("tls-http01-challenge-failing", mutate=drop("Order", "team-b-tls-1-2271532086"))
    (f,) = on(d, "EGD403", "Certificate", "team-b-tls")
    assert "CertificateRequest gateway/team-b-tls-1 is Failed: Failed to wait for order resource" in f.message
    d = diagnose("tls-http01-challenge-failing", mutate=drop("CertificateRequest", "team-b-tls-1"))
    (f,) = on(d, "EGD403", "Certificate", "team-b-tls")
    assert "issuance failed (Failed): The certificate request has failed to complete" in f.message


def test_a_request_of_another_revision_is_not_followed() -> None:
    def bump(objects: list[dict[str, Any]]) -> None:
        find(objects, "Certificate", "team-a-tls")["status"]["revision"] = 1

    (f,) = on(diagnose("tls-http01-challenge-failing", mutate=bump), "EGD403", "Certificate", "team-a-tls")
    assert "Challenge" not in f.message
    assert "Ready=False (DoesNotExist): Issuing certificate as Secret does not exist" in f.message


def test_a_denied_request_is_the_link() -> None:
    def deny(objects: list[dict[str, Any]]) -> None:
        cr = find(objects, "CertificateRequest", "team-a-tls-1")
        cr["status"]["conditions"] = [
            {
                "type": "Denied",
                "status": "True",
                "reason": "policy.cert-manager.io",
                "message": "No policy approved this request",
            },
            {
                "type": "Ready",
                "status": "False",
                "reason": "Denied",
                "message": "The CertificateRequest was denied by an approval controller",
            },
        ]
        objects[:] = [o for o in objects if o["kind"] != "Order" or "team-a" not in o["metadata"]["name"]]

    (f,) = on(diagnose("tls-http01-challenge-failing", mutate=deny), "EGD403", "Certificate", "team-a-tls")
    assert "is Denied (policy.cert-manager.io): No policy approved this request" in f.message


def test_not_ready_while_a_valid_certificate_is_served_is_a_warning() -> None:
    d = diagnose("tls-issuer-not-ready")
    (b,) = on(d, "EGD403", "Certificate", "team-b-tls")
    assert b.severity is Severity.WARNING and "still served" in b.message
    assert "its Issuer gateway/letsencrypt-staging does not exist" in b.message
    (a,) = on(d, "EGD403", "Certificate", "team-a-tls")
    assert a.severity is Severity.ERROR
    assert "its ClusterIssuer letsencrypt is not Ready (ErrRegisterACMEAccount)" in a.message


def test_scoping_shows_a_namespace_only_its_listeners_certificates() -> None:
    d = diagnose("tls-http01-challenge-failing", namespaces=["team-b"])
    assert on(d, "EGD403", "Certificate", "team-b-tls")
    assert on(d, "EGD403", "Certificate", "team-a-tls") == []


def test_certificates_that_feed_no_listener_are_not_diagnosed() -> None:
    def unrelated(objects: list[dict[str, Any]]) -> None:
        find(objects, "Certificate", "team-b-tls")["spec"]["secretName"] = "database-mtls"

    assert (
        on(diagnose("tls-http01-challenge-failing", mutate=unrelated), "EGD403", "Certificate", "team-b-tls")
        == []
    )


# -- EGD404 -----------------------------------------------------------------------------------------------


def test_issuer_not_ready_and_issuer_missing() -> None:
    d = diagnose("tls-issuer-not-ready")
    (cluster,) = {f.message: f for f in on(d, "EGD404", "ClusterIssuer", "letsencrypt")}.values()
    assert "is not Ready (ErrRegisterACMEAccount): Failed to register ACME account" in cluster.message
    assert "spec.acme.email" in cluster.hint
    (missing,) = {f.message: f for f in on(d, "EGD404", "Issuer", "letsencrypt-staging")}.values()
    assert "Issuer gateway/letsencrypt-staging does not exist" in missing.message
    assert "used by Certificate gateway/team-b-tls" in missing.message


def test_an_issuer_that_cannot_initialise_says_why() -> None:
    def init_error(objects: list[dict[str, Any]]) -> None:
        # pkg/controller/clusterissuers/sync.go: errorInitIssuer / messageErrorInitIssuer
        find(objects, "ClusterIssuer", "letsencrypt")["status"]["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "ErrInitIssuer",
                "message": 'Error initializing issuer: secret "letsencrypt-account-key" not found',
            }
        ]

    d = diagnose("tls-issuer-not-ready", mutate=init_error)
    (f,) = {x.message: x for x in on(d, "EGD404", "ClusterIssuer", "letsencrypt")}.values()
    assert (
        'ErrInitIssuer): Error initializing issuer: secret "letsencrypt-account-key" not found' in f.message
    )
    assert "referenced Secret is missing" in f.hint


def test_an_issuer_nobody_uses_is_not_diagnosed() -> None:
    def unused(objects: list[dict[str, Any]]) -> None:
        for name in ("team-a-tls", "team-b-tls"):
            objects[:] = [
                o for o in objects if not (o["kind"] == "Certificate" and o["metadata"]["name"] == name)
            ]

    assert tls_findings(diagnose("tls-issuer-not-ready", mutate=unused), "EGD404") == []


# -- EGD405 -----------------------------------------------------------------------------------------------


def test_an_ingress_class_solver_and_a_solver_route_the_listener_rejects() -> None:
    d = diagnose("tls-http01-solver-mismatch")
    (nginx,) = on(d, "EGD405", "Issuer", "letsencrypt-prod")
    assert "Ingress of class nginx" in nginx.message
    assert (
        "gatewayHTTPRoute.parentRefs: [{name: shared, namespace: gateway, sectionName: http}]" in nginx.hint
    )
    (route,) = on(d, "EGD405", "ClusterIssuer", "letsencrypt-gateway")
    assert (
        "selects namespaces by shared-gateway-access=true and namespace gateway does not match"
        in route.message
    )
    assert "kubectl label namespace gateway shared-gateway-access=true" in route.hint


def test_labelling_the_solver_namespace_fixes_the_route() -> None:
    def opt_in(objects: list[dict[str, Any]]) -> None:
        find(objects, "Namespace", "gateway")["metadata"]["labels"]["shared-gateway-access"] = "true"

    d = diagnose("tls-http01-solver-mismatch", mutate=opt_in)
    assert on(d, "EGD405", "ClusterIssuer", "letsencrypt-gateway") == []
    assert on(d, "EGD405", "Issuer", "letsencrypt-prod")


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        ({"name": "missing", "namespace": "gateway"}, "Gateway gateway/missing, which does not exist"),
        ({"name": "missing"}, "(no namespace given, so gateway is assumed)"),
        (
            {"name": "shared", "namespace": "gateway", "sectionName": "https-team-b"},
            "listener https-team-b has no port-80 HTTP listener",
        ),
        ({"name": "shared", "namespace": "gateway", "sectionName": "nope"}, "listener nope of Gateway"),
    ],
)
def test_solver_parent_refs_that_reach_no_http_listener(parent: dict[str, Any], expected: str) -> None:
    def point(objects: list[dict[str, Any]]) -> None:
        find(objects, "Namespace", "gateway")["metadata"]["labels"]["shared-gateway-access"] = "true"
        solver = find(objects, "ClusterIssuer", "letsencrypt-gateway")["spec"]["acme"]["solvers"][0]
        solver["http01"]["gatewayHTTPRoute"]["parentRefs"] = [parent]

    d = diagnose("tls-http01-solver-mismatch", mutate=point)
    messages = [f.message for f in on(d, "EGD405", "ClusterIssuer", "letsencrypt-gateway")]
    assert len(messages) == 1 and expected in messages[0]


def test_the_solver_is_picked_as_cert_manager_picks_it() -> None:
    issuer = Obj(
        {
            "kind": "ClusterIssuer",
            "metadata": {"name": "x"},
            "spec": {
                "acme": {
                    "solvers": [
                        {"http01": {"ingress": {"class": "nginx"}}},
                        {"selector": {"dnsZones": ["example.com"]}, "dns01": {"cloudflare": {}}},
                        {
                            "selector": {"dnsNames": ["team-a.example.com"]},
                            "http01": {"gatewayHTTPRoute": {}},
                        },
                        {
                            "selector": {"dnsZones": ["apps.example.com"]},
                            "http01": {"gatewayHTTPRoute": {"labels": {}}},
                        },
                    ]
                }
            },
        }
    )
    assert "gatewayHTTPRoute" in pick_solver(issuer, "team-a.example.com", {})["http01"]  # type: ignore[index]
    assert pick_solver(issuer, "shop.apps.example.com", {})["selector"]["dnsZones"] == ("apps.example.com",)  # type: ignore[index]
    assert "dns01" in pick_solver(issuer, "other.example.com", {})  # type: ignore[operator]
    assert "dns01" in pick_solver(issuer, "*.apps.example.com", {})  # type: ignore[operator]
    assert "ingress" in pick_solver(issuer, "elsewhere.org", {})["http01"]  # type: ignore[index]


# -- EGD406 -----------------------------------------------------------------------------------------------


def test_cert_manager_absent_is_an_error_while_a_secret_is_missing() -> None:
    d = diagnose("tls-cert-manager-absent")
    (f,) = tls_findings(d, "EGD406")
    assert "is not installed" in f.message and f.severity is Severity.ERROR
    assert not [x for x in d.findings if x.code == "EGD003"]


def test_cert_manager_absent_is_a_warning_while_every_secret_is_there() -> None:
    def listener_a_only(objects: list[dict[str, Any]]) -> None:
        gw = find(objects, "Gateway", "shared")
        gw["spec"]["listeners"] = [ls for ls in gw["spec"]["listeners"] if ls["name"] != "https-team-b"]

    (f,) = tls_findings(diagnose("tls-cert-manager-absent", mutate=listener_a_only), "EGD406")
    assert f.severity is Severity.WARNING and "will expire unrenewed" in f.message


def test_the_gateway_shim_turned_off() -> None:
    d = diagnose("tls-gateway-shim-disabled")
    (f,) = tls_findings(d, "EGD406")
    assert "gateway/team-a-tls, gateway/team-b-tls" in f.message and "enableGatewayAPI" in f.message
    assert all("see EGD406" in x.hint for x in tls_findings(d, "EGD401"))


def test_certificates_without_any_status_mean_cert_manager_does_not_run() -> None:
    def unreconciled(objects: list[dict[str, Any]]) -> None:
        for o in objects:
            if o["kind"] == "Certificate":
                o["status"] = {}

    d = diagnose("tls-http01-challenge-failing", mutate=unreconciled)
    (f,) = tls_findings(d, "EGD406")
    assert "is installed but not running" in f.message
    assert tls_findings(d, "EGD403") == []  # said once, not once per Certificate


# -- the report's TLS rows ----------------------------------------------------------------------------------


def rows(scenario: str, **kw: Any) -> dict[tuple[str, str], Any]:
    d = diagnose(scenario, **kw)
    report = Report(d, d.findings, Severity.ERROR)
    return {(r.listener, r.hostname): r for r in tls_rows(report)}


def test_rows_for_a_healthy_cert_manager_listener() -> None:
    r = rows("tls-cert-manager-healthy")[("https-team-a", "team-a.example.com")]
    assert r.ok() and r.ready is True and r.covered is True and r.broken is None
    assert str(r.issuer) == "ClusterIssuer letsencrypt" and r.certificate == ("gateway", "team-a-tls")
    assert "until" in r.describe() and "Ready" in r.describe()


def test_rows_show_the_broken_link_and_uncovered_names() -> None:
    r = rows("tls-http01-challenge-failing")[("https-team-a", "team-a.example.com")]
    assert (
        not r.ok() and r.cert is None and r.broken == "Challenge team-a-tls-1-3149851744-1047236702 pending"
    )
    assert "EGD403" in r.codes
    cov = rows("tls-hostname-coverage")
    assert cov[("https-apps", "eu.shop.apps.example.com")].covered is False
    assert cov[("https-apps", "shop.apps.example.com")].covered is True


def test_the_json_report_carries_the_tls_rows() -> None:
    d = diagnose("tls-issuer-not-ready", namespaces=["team-b"])
    data = report_json(Report(d, d.findings, Severity.ERROR))
    (row,) = data["tls"]
    cm = row["certManager"]
    assert row["listener"] == "https-team-b" and cm["ready"] is False
    assert cm["issuer"] == {"kind": "Issuer", "namespace": "gateway", "name": "letsencrypt-staging"}
    assert cm["brokenLink"] == "its Issuer gateway/letsencrypt-staging does not exist"
    held = row["secretCertificate"]
    assert held["notAfter"] and held["dnsNames"] == ["team-b.example.com"]


def _pem_with_serial(serial_der: bytes) -> bytes:
    """A self-signed certificate whose serial number field is rewritten (after signing: the parser reads
    it, nothing verifies the signature) to values a certificate builder refuses to make."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.example.com")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x7A)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(b"\x02\x01\x7a") == 1
    der = der.replace(b"\x02\x01\x7a", serial_der)
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


def test_a_certificate_with_a_zero_serial_is_read_without_the_parser_s_warning(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """RFC 5280 wants a positive serial number; cryptography warns on stderr about one that is zero (EG's
    own test data has such certificates, and Envoy serves them). The certificate is read, and the user's
    terminal gets egdoctor's report, not a library's deprecation notice."""
    from egdoctor.checks.tls.certificate import CertInfo, parse_certificate

    info = parse_certificate(base64.b64encode(_pem_with_serial(b"\x02\x01\x00")).decode())
    assert isinstance(info, CertInfo) and info.subject == "app.example.com"
    assert not [w for w in recwarn if "serial" in str(w.message).lower()]
