"""Imports every orchestrator and activity module so ``mvd_core.workflow.registry`` is full.

Both hosts import this before reading the registry. (lead fills)"""
