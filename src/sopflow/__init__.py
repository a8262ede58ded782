"""sopflow: standard operating procedures as executable, reviewable workflows kept in git."""

__version__ = "0.1.0"
