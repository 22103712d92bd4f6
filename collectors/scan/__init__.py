"""The nmap scan collector: validated targets, fixed-vocabulary profiles, XML → ECS events, diffs, policy."""
