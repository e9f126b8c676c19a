"""LabelMesh benchmarks: `make bench` prints the figures."""
