"""egdoctor measured against Envoy Gateway's own verdicts.

EG's translator tests (``internal/gatewayapi/testdata/*.in.yaml`` in envoyproxy/gateway, with the
statuses EG computed in the matching ``*.out.yaml``) are ground truth written by others. Each case is
turned into what a live cluster would serve (``cases.py``), egdoctor diagnoses it offline
(``measure.py``), and the figures say how often egdoctor reports on what EG marks broken (recall) and
how often it calls an object EG marks healthy an error (false-error rate). The data is read from Go's
module cache for the pinned release, never copied into the project.
"""
