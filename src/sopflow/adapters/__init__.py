"""Adapters: the edges where sopflow meets git, files and the terminal."""
