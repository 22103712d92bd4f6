"""What rules say: Sigma parsing, the ECS mapping, Sentinel rule files and types, the control catalogue."""
