"""The Kubernetes object model, without I/O: the labels and spec hash on managed objects,
object keys, the keys of associative lists, and the field diff of desired vs observed.

``plan`` (what a blueprint renders) and ``platforms.kubernetes`` (what a cluster holds) both
build on it; it imports nothing of theirs."""
