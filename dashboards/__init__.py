"""Dashboards: web pages, report layouts and Kibana saved objects."""
