"""Exports of dataset versions: one module per file format, the archive they
write into, and the runner that feeds them a version's items a chunk at a time."""
