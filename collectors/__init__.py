"""Collectors: receive logs, scans and sensor findings and turn them into ECS events."""
