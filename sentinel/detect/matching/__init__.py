"""Matching events against Sigma rules: field values, compiled predicates, the rule index."""
