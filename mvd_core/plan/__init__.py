"""Desired state from a blueprint (Kubernetes objects, DID documents, cloud resources) and
its diff against what is observed."""
