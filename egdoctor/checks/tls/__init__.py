"""TLS and cert-manager checks (EGD4xx), and the per-hostname TLS picture the reports show.

Listener certificates are followed the way the controllers follow them: Envoy Gateway reads the Secrets a
listener's `tls.certificateRefs` name; cert-manager writes them from a Certificate whose `spec.secretName`
is that Secret, made either by hand or by cert-manager's Gateway shim from the Gateway's
`cert-manager.io/issuer` / `cert-manager.io/cluster-issuer` annotations (the shim names the Certificate
after the Secret). Only Certificates that feed a listener are diagnosed: egdoctor is about ingress.

Status shapes, condition reasons and object links follow cert-manager:
pkg/apis/certmanager/v1/types_certificate.go, types_certificaterequest.go, types_issuer.go,
pkg/apis/acme/v1/types_order.go, types_challenge.go, types_issuer.go (solvers),
internal/controller/certificates/policies/{constants,checks}.go (Ready reasons such as DoesNotExist),
pkg/controller/certificaterequests/acme/acme.go (CertificateRequest Pending/Failed messages),
pkg/controller/acmechallenges/readiness.go (Challenge reasons), pkg/issuer/acme/setup.go (Issuer reasons),
pkg/util/solverpicker/solverpicker.go (which solver a domain uses), and cert-manager/cmctl
pkg/status/certificate/certificate.go (which CertificateRequest, Order and Challenges belong to a
Certificate).

The modules:
  listeners            TLS-terminating listeners, their certificateRefs and the Certificates writing them
  host_coverage        the hostnames a listener serves, and whether a certificate name covers one
  certificate          the certificate a listener Secret holds
  secret_access        whether a Gateway may read a Secret, and whether egdoctor could
  cert_manager         issuer references, whether an issuer can issue, the names a Certificate asks for
  issuance             Certificate -> CertificateRequest -> Order -> Challenges: where issuance is stuck
  acme_solvers         which ACME solver a domain uses, and whether its HTTP-01 route reaches a listener
  wording              durations, timestamps, Certificate labels and issuer fixes as messages write them
  listener_checks      the checks on listener Secrets and their certificates (EGD401, EGD402)
  cert_manager_checks  the checks on the cert-manager objects behind them (EGD403 to EGD406)
"""

# Importing the check modules registers their checks, in this order (the order `egdoctor checks` lists).
from egdoctor.checks.tls import listener_checks  # noqa: F401

# isort: split
from egdoctor.checks.tls import cert_manager_checks  # noqa: F401
