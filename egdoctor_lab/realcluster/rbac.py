"""The identities a real cluster's users have, as RBAC objects the real authorizer decides on.

* ``tenant``: an Elastx customer: edit rights in the application namespace only (a Role and RoleBinding
  there), nothing cluster-wide, nothing in the Gateway's or EG's namespace;
* ``support``: read everything cluster-wide and container logs (a ClusterRole and ClusterRoleBinding),
  both as a client-certificate user and, for the token kubeconfig, as the ``egdoctor:support`` group;
* ``envoy-gateway``: the controller. The chart gives its ServiceAccount a long ClusterRole
  (``charts/gateway-helm/templates/_rbac.tpl``); the lab binds the controller's user to
  ``cluster-admin`` instead, which only widens what the controller may do.
"""

from __future__ import annotations

from typing import Any

TENANT_USER = "tenant"
SUPPORT_USER = "support"
SUPPORT_GROUP = "egdoctor:support"
EG_USER = "envoy-gateway"
TENANT_GROUPS = [
    "",
    "apps",
    "discovery.k8s.io",
    "gateway.networking.k8s.io",
    "gateway.envoyproxy.io",
    "cert-manager.io",
]


def rbac_objects(tenant_namespace: str) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": "tenant-edit", "namespace": tenant_namespace},
            "rules": [{"apiGroups": TENANT_GROUPS, "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {"name": "tenant-edit", "namespace": tenant_namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant-edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": TENANT_USER}],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": "egdoctor-support"},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                {"nonResourceURLs": ["*"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "egdoctor-support"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "egdoctor-support",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": SUPPORT_USER},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": SUPPORT_GROUP},
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "envoy-gateway"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": EG_USER}],
        },
    ]
