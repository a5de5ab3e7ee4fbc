"""Card templates (package data; see README.md in this folder)."""
