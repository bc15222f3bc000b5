"""Desired state from a blueprint (Kubernetes objects, DID documents, cloud resources) and
the plan: its diff (``mvd_core.k8s.diff``) against what is observed."""
