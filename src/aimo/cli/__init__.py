"""The `aimo` command line."""
