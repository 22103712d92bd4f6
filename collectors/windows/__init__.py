"""Windows event logs: evtx-rs JSON records and ``.evtx`` files → ECS events."""
