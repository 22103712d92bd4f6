"""Playbooks: the response to alerts (YAML definitions and their step actions)."""
