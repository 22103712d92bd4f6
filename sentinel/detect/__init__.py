"""Detection: Sigma and Sentinel rules over ECS events, run on a schedule, raising alerts.

Four subpackages, one job each; imports point down this list, never up (an import-linter
contract keeps it so):

- ``engine/``: runs rules on a schedule (``runner.DetectionEngine``, ``scheduler``), step by step
  from each rule's checkpoint (``steps``, ``checkpoints``), many rules sharing one fetch
  (``shared_pass``) or reading each stored event once (``live_feed``, ``detect.follow_ingest``),
  stores what they find (``step_writes``) and their health (``health``); ``rule_loading`` loads
  the configured rules compiled, through the compiled rule cache; ``samples`` runs a rule's sample
  events on the real engine.
- ``detectors/``: how each kind of rule turns a range of events into alert candidates (Sigma
  detection, Sigma correlation, threshold, new value, silence).
- ``matching/``: whether an event matches a Sigma rule, fast: field values (``field_values``),
  a rule compiled as plain data (``compiled``) and as a predicate (``predicates``), the index that
  tries each event only against rules that may fit (``index``, ``prefilter``), store filters
  evaluated in Python (``event_filters``), and ``reference``: the same semantics written plainly,
  which a test holds the optimised path to.
- ``rulebook/``: what rules say: Sigma parsing (``sigma``), the mapping of Sigma log sources and
  fields onto Sentinel's ECS events (``ecs_pipeline``), Sentinel's rule files and options
  (``pack``), rule types beyond Sigma (``typed_rules``), the control catalogue (``controls``), and
  the compiled rule cache on disk (``cache``).

``alerts`` (the alert model and where alerts go) is what detection hands to the rest of Sentinel.
The shipped rule pack is the YAML in ``rules/``; the control catalogue is ``controls.yaml``.
"""
