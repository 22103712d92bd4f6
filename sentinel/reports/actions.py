"""The three most useful actions for an institution, chosen from its figures.

Each candidate has a weight (how much it lowers risk: open serious incidents first, then missed
deadlines, exposed services, active attackers, blind spots, old software, weak TLS, missing scans
and sources) and applies only when the figures show the problem. The layout words each key.
"""

from __future__ import annotations

from collections.abc import Callable

from sentinel.reports.figures import (
    Action,
    AttackFigures,
    ControlFigures,
    Count,
    CoverageFigures,
    IncidentFigures,
    ScanFigures,
    SlaFigures,
)

TOP = 3


def _count(items: list[Count], kind: str) -> int:
    return next((c.count for c in items if c.key == kind), 0)


def _findings(scans: ScanFigures, *kinds: str) -> list[str]:
    return [f"{f.address}:{f.port} ({f.detail})" for f in scans.findings if f.kind in kinds][:3]


def choose(
    incidents: IncidentFigures,
    sla: SlaFigures,
    attacks: AttackFigures,
    scans: ScanFigures,
    coverage: CoverageFigures,
    controls: ControlFigures,
) -> list[Action]:
    brute_force = any(c.control_id == "AUTH-02" and c.status == "breached" for c in controls.controls)
    silent = [s.name for s in coverage.expected if s.silent_days or not s.events]
    candidates: list[tuple[int, Callable[[], Action | None]]] = [
        (100, lambda: Action(key="resolve_serious", count=incidents.open_serious) if incidents.open_serious else None),
        (
            90,
            lambda: (
                Action(
                    key="meet_sla",
                    count=len(sla.breaches),
                    values=[str(sla.acknowledge.missed), str(sla.resolve.missed)],
                )
                if sla.breaches
                else None
            ),
        ),
        (
            80,
            lambda: (
                Action(key="close_exposed", count=_count(scans.current, "exposed"), values=_findings(scans, "exposed"))
                if _count(scans.current, "exposed")
                else None
            ),
        ),
        (
            70,
            lambda: (
                Action(
                    key="block_sources",
                    count=len(attacks.top_sources),
                    values=[s.address for s in attacks.top_sources[:3]],
                )
                if brute_force and attacks.top_sources
                else None
            ),
        ),
        (60, lambda: Action(key="restore_logging", count=len(silent), values=silent[:3]) if silent else None),
        (
            50,
            lambda: (
                Action(
                    key="upgrade_eol",
                    count=_count(scans.current, "end_of_life"),
                    values=_findings(scans, "end_of_life"),
                )
                if _count(scans.current, "end_of_life")
                else None
            ),
        ),
        (
            40,
            lambda: (
                Action(
                    key="fix_tls",
                    count=_count(scans.current, "weak_tls") + _count(scans.current, "certificate"),
                    values=_findings(scans, "weak_tls", "certificate"),
                )
                if _count(scans.current, "weak_tls") + _count(scans.current, "certificate")
                else None
            ),
        ),
        (20, lambda: Action(key="request_scan") if not scans.scanned else None),
        (10, lambda: Action(key="register_sources") if not coverage.expected else None),
    ]
    chosen = [a for _, make in sorted(candidates, key=lambda c: -c[0]) if (a := make()) is not None]
    return chosen[:TOP] or [Action(key="keep_up")]
