"""Streaming CSV exports, and the backups of the whole database (issue 6)."""
