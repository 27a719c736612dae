"""Flags, the validated configuration and the files it names."""
