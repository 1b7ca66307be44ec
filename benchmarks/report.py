"""The results table: rows with their targets, and the RESULTS.md around them."""

from __future__ import annotations

from dataclasses import dataclass, field

COLUMNS = (
    "#",
    "measurement",
    "ours",
    "alternative",
    "ratio",
    "target",
    "result",
    "CPU µs/request",
)


@dataclass(frozen=True)
class Measure:
    """One number of a row: the best of its rounds.

    Other work on the machine can only slow a round down, never speed it up,
    so the best round is the one closest to what the code itself costs.
    """

    samples: tuple[float, ...]
    unit: str
    #: Who produced it, when that is not the gateway (e.g. ``WhiteNoise``).
    name: str = ""
    higher_is_better: bool = True
    #: The server workers' CPU time per request, in each round.
    cpu_us: tuple[float, ...] = ()

    @property
    def value(self) -> float:
        return max(self.samples) if self.higher_is_better else min(self.samples)

    @property
    def cpu(self) -> float | None:
        """The least CPU per request of the rounds: the least disturbed one."""
        return min(self.cpu_us) if self.cpu_us else None

    @property
    def spread(self) -> float:
        """Half the range of the rounds, as a share of the value kept."""
        if len(self.samples) < 2 or not self.value:
            return 0.0

        return (max(self.samples) - min(self.samples)) / 2 / self.value

    def text(self) -> str:
        number = _number(self.value)
        spread = f" ±{self.spread:.0%}" if self.spread >= 0.005 else ""
        who = f"{self.name}: " if self.name else ""
        return f"{who}{number} {self.unit}{spread}"


def single(
    value: float, unit: str, name: str = "", higher_is_better: bool = True
) -> Measure:
    return Measure((value,), unit, name, higher_is_better)


@dataclass(frozen=True)
class Target:
    """``at_least`` bounds the ratio from below; ``below`` bounds ours from above."""

    kind: str
    bound: float
    unit: str = ""

    def text(self) -> str:
        if self.kind == "at_least":
            return f"≥ {_number(self.bound)}"

        return f"< {_number(self.bound)} {self.unit}".rstrip()


def at_least(bound: float) -> Target:
    return Target("at_least", bound)


def below(bound: float, unit: str) -> Target:
    return Target("below", bound, unit)


@dataclass
class Row:
    number: str
    label: str
    ours: Measure | None = None
    alternative: Measure | None = None
    target: Target | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.alternative is None or not self.alternative.value:
            return None

        return self.ours.value / self.alternative.value

    @property
    def passed(self) -> bool | None:
        """Whether the target is met; ``None`` without a target or a number."""
        if self.target is None or self.ours is None:
            return None

        if self.target.kind == "below":
            return self.ours.value < self.target.bound

        ratio = self.ratio
        return None if ratio is None else ratio >= self.target.bound

    def result(self) -> str:
        if self.error:
            return f"error: {self.error}"

        passed = self.passed
        if passed is None:
            return "—"

        if passed:
            return "pass"

        return f"**miss** {self.shortfall()}"

    def shortfall(self) -> str:
        """By how much the target is missed, in the target's own terms."""
        assert self.target is not None and self.ours is not None
        if self.target.kind == "below":
            excess = self.ours.value - self.target.bound
            return f"by {_number(excess)} {self.target.unit}"

        ratio = self.ratio or 0.0
        gap = self.target.bound - ratio
        return f"by {gap:.2f} ({gap / self.target.bound:.0%} short)"

    def cells(self) -> tuple[str, ...]:
        ratio = self.ratio
        return (
            self.number,
            self.label,
            self.ours.text() if self.ours else "—",
            self.alternative.text() if self.alternative else "—",
            _ratio(ratio) if ratio is not None else "—",
            self.target.text() if self.target else "—",
            self.result(),
            self.cpu_cell(),
        )

    def cpu_cell(self) -> str:
        """``ours / alternative`` CPU per request in the server's workers."""
        ours = self.ours.cpu if self.ours else None
        if ours is None:
            return "—"

        theirs = self.alternative.cpu if self.alternative else None
        if theirs is None:
            return f"{ours:,.0f}"

        return f"{ours:,.0f} / {theirs:,.0f}"


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for row in rows:
        cells = (cell.replace("|", "\\|") for cell in row.cells())
        lines.append("| " + " | ".join(cells) + " |")

    return "\n".join(lines)


def plain_table(rows: list[Row]) -> str:
    """The same table for a terminal: aligned columns, no markup."""
    cells = [COLUMNS, *(tuple(c.replace("**", "") for c in r.cells()) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in cells
    )


def missed(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row.passed is False]


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"

    if value >= 10:
        return f"{value:.1f}"

    return f"{value:.2f}"


def _ratio(value: float) -> str:
    return f"{value:.1f}×" if value >= 10 else f"{value:.2f}"
