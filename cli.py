"""The single `anxin` command-line entry point."""
