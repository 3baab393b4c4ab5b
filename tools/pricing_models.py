"""Result models of the pricing engine (pydantic v2).

Money and factors are plain floats built from exact Decimals that were rounded
(or are short decimals) before conversion, so ``json.dumps(result.model_dump())``
works and ``result.premium == 373.18`` holds. :attr:`QuoteResult.premium_decimal`
gives the exact Decimal back.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field


class Notice(BaseModel):
    """A bilingual message attached to a quote (``code`` names its kind)."""

    code: str | None = None
    zh: str
    en: str


class Factor(BaseModel):
    """One rating factor: its table/name, the input it was looked up with, the band or option used, its value."""

    name: str
    input: Any = None
    band: str | None = None
    value: float


class BreakdownStep(BaseModel):
    """One step of ``rating.steps``, in order.

    ``op`` says how the step combines: ``set`` (a look-up or a new quantity),
    ``multiply`` (running premium x factor), ``add``/``sum``, ``subtract``
    (HBB credit), ``rate`` (a discount rate) or ``round`` (the final step).
    ``factor``/``input``/``band``/``value`` describe the step's factor; a step
    with several factors (HOME risk, FLT per segment, RSI, HBB credit...) lists
    each in ``factors`` and gives their product (or the credit) in ``value``.
    ``subtotal`` is the step's exact, unrounded result (the running premium for
    multiplicative steps), ``basis`` the arithmetic written out.
    """

    step: str
    formula: str
    op: str
    factor: str | None = None
    input: Any = None
    band: str | None = None
    value: float | None = None
    factors: list[Factor] = Field(default_factory=list)
    basis: str = ""
    subtotal: float


class ProgrammeSummary(BaseModel):
    """Behaviour/IoT programme reductions against the pre-programme premium (cap 30%)."""

    programmes: list[str]
    pre_programme_premium: float
    reduction: float
    discount_pct: float
    cap_pct: float


class IndicatorScore(BaseModel):
    """One UBI driving indicator: value, good/bad anchors, weight and sub-score (0-100)."""

    key: str
    value: float
    good: float
    bad: float
    weight: float
    subscore: float
    weighted: float


class RebateTerms(BaseModel):
    """UBI safe-driving rebate terms for this premium (paid later, per 3-month window >= 90)."""

    rebate_pct_per_window: float
    max_windows_per_year: int
    rebate_one_window: float
    max_rebate: float
    net_cost_floor: float
    formula: str


class UbiDetail(BaseModel):
    """How the UBI factor was found: score source, sub-scores, factor before/after the clamp."""

    score_source: Literal["driving_score", "driving_indicators", "unscored"]
    driving_score: float | None = None
    score_unrounded: float | None = None
    subscores: list[IndicatorScore] = Field(default_factory=list)
    factor_unclamped: float | None = None
    factor: float
    floor: float
    ceiling: float
    pre_ubi_premium: float
    rebate: RebateTerms


class QuoteResult(BaseModel):
    """The answer of :func:`anxin.tools.pricing.quote`."""

    product_id: str
    product_name: dict[str, str]
    premium: float
    currency: str = "CNY"
    premium_frequency: Literal["annual", "single"]
    payment_years: int | None = None
    breakdown: list[BreakdownStep]
    notices: list[Notice] = Field(default_factory=list)
    refused_inputs: list[str] = Field(default_factory=list)
    ignored_inputs: list[str] = Field(default_factory=list)
    inputs_used: dict[str, Any] = Field(default_factory=dict)
    hbb_credit: float | None = None
    points_redeemed: int | None = None
    programme: ProgrammeSummary | None = None
    ubi: UbiDetail | None = None
    extras: dict[str, Any] = Field(default_factory=dict)

    @property
    def premium_decimal(self) -> Decimal:
        """The premium as an exact 2-dp Decimal."""
        return Decimal(f"{self.premium:.2f}")


class EffectiveNote(BaseModel):
    """When a simulated change would take effect (``rating.simulation_notes``)."""

    key: str
    zh: str
    en: str


class StepChange(BaseModel):
    """A breakdown step whose factor or result differs between before and after."""

    step: str
    factor: str | None = None
    before_input: Any = None
    after_input: Any = None
    before_value: float | None = None
    after_value: float | None = None
    before_subtotal: float
    after_subtotal: float


class SimulationResult(BaseModel):
    """The answer of :func:`anxin.tools.pricing.simulate`."""

    product_id: str
    currency: str = "CNY"
    before: QuoteResult
    after: QuoteResult
    before_premium: float
    after_premium: float
    delta: float
    delta_pct: float | None
    changes: dict[str, Any]
    params_after: dict[str, Any]
    effective: list[EffectiveNote] = Field(default_factory=list)
    changed_steps: list[StepChange] = Field(default_factory=list)
