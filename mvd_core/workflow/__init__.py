"""Orchestrators (Durable Functions generators) and the idempotent activities they call."""
