"""The `labelmesh` command-line tool, built on the SDK."""
