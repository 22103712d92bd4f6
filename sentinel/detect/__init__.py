"""Detection: Sigma rules mapped to ECS, matched in Python or compiled for the store backend."""
