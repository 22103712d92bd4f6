"""Detectors: how each kind of rule turns the events of a range into alert candidates."""
