r"""What a decoder file says, as typed models: unknown keys are refused (with the file and line).

A decoder describes one service's logs::

    id: postfix                      # unique; a site decoder with a shipped id replaces it
    title: Postfix mail server
    dataset: postfix.log             # event.dataset (event.module is its first word)
    order: 100                       # lower first where several decoders share a program or text
    programs: ["postfix*"]           # syslog program names it reads ("name*" = a prefix)
    formats: [postfix.log]           # file datasets whose lines it reads whole (needs `lines` or `json`)
    prefilter: ["SASL "]             # texts: a line of an unknown program, or with no syslog header,
                                     # that holds one of them is offered to this decoder
    lines:                           # how its own log files' lines start: the time and what else
      - match: '%{TIMESTAMP_ISO8601:@timestamp} '
        time: '%Y-%m-%d %H:%M:%S'    # or iso8601, epoch, epoch_ms, syslog...; zone: UTC when it logs UTC
    patterns: {CLIENT: '...'}        # named sub-patterns for this decoder's rules
    rules:                           # tried in order; the first that matches decides
      - action: sasl_login_failed    # event.action
        match: 'warning: %{CLIENT}: SASL \S+ authentication failed'
        category: [authentication]   # event.category (ECS values, checked)
        type: [start]                # event.type (must suit the category)
        outcome: failure             # event.outcome
        set: {service.type: smtp}    # other constant fields
    samples:                         # lines that must decode to these fields, and lines that must not
      - line: 'Dec  2 22:24:22 mx postfix/smtpd[7676]: warning: unknown[192.0.2.7]: SASL LOGIN ...'
        fields: {source.ip: 192.0.2.7, event.outcome: failure}
      - line: '...'
        decodes: false
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DecoderId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Dataset = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+\.[a-z0-9_.]+$", max_length=100)]
Action = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
Scalar = str | int | float | bool
# Sample receive time: lines without a year are placed before it (the same rule as live syslog).
DEFAULT_RECEIVED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LineSpec(Strict):
    """The start of a line of the service's own log file: it must capture ``@timestamp``."""

    match: str
    time: str  # the format of the captured time
    zone: str | None = None  # the zone of times written without one (default: the institution's)


class JsonTime(Strict):
    path: str
    format: str = "iso8601"
    zone: str | None = None


class JsonSpec(Strict):
    """Lines that are one JSON object each (journald export, MongoDB, GitLab...)."""

    time: JsonTime
    message: str | None = None  # the key whose text the rules read and that becomes `message`
    program: str | None = None  # the key naming the syslog program: its message is decoded as that program's
    # key path -> ECS field, or a pattern whose %{X:field} captures read the value ("%{IP:source.ip}:%{PORT}")
    fields: dict[str, str] = {}


class RuleSpec(Strict):
    action: Action
    match: str
    reads: Literal["message", "line"] = "message"  # the text after the line header, or the whole line
    category: list[str] = []
    types: list[str] = Field(default=[], alias="type")
    outcome: str | None = None
    kind: str | None = None
    fields: dict[str, str] = {}  # (?P<name>...) group -> ECS field
    constants: dict[str, Scalar | list[Scalar]] = Field(default={}, alias="set")


class SampleSpec(Strict):
    line: str
    fields: dict[str, Any] = {}  # what the event must hold (a scalar is also found in a list)
    decodes: bool = True  # false: no rule may classify the line
    dataset: str | None = None  # read the line as from a file of this dataset (tests `formats`)
    received: datetime = DEFAULT_RECEIVED
    timezone: str = "UTC"  # the sending institution's zone


class DecoderSpec(Strict):
    id: DecoderId
    title: str
    dataset: Dataset
    order: int = Field(default=100, ge=0, le=10_000)
    programs: list[str] = []
    formats: list[str] = []
    prefilter: list[Annotated[str, StringConstraints(min_length=3)]] = []
    lines: list[LineSpec] = []
    json_lines: JsonSpec | None = Field(default=None, alias="json")
    patterns: dict[str, str] = {}
    constants: dict[str, Scalar | list[Scalar]] = Field(default={}, alias="set")  # on every event it decodes
    rules: list[RuleSpec] = []
    samples: list[SampleSpec] = []
    references: list[str] = []  # where the log format is documented
