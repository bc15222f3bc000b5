"""Identity: did:web identifiers and URLs, keys as JWK, DID documents, resolution."""
