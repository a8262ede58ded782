"""Renderers: turn data into text. They return strings and never print."""
