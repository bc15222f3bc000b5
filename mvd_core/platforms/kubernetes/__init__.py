"""Kubernetes: the simulated cluster, API client construction and workload operations."""
