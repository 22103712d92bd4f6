"""Running rules: schedule, steps, checkpoints, the shared pass, stored alerts and rule health."""
