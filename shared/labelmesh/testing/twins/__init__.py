"""In-memory twins of each service's storage ports, for unit tests."""
