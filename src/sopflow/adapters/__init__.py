"""Edges: the file system, git, the environment. The core never imports from here."""
