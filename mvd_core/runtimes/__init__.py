"""EDC runtimes: the Maven assembly of each runtime kind and the typed spec of each runtime process."""
