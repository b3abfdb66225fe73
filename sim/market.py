"""The market: the finite prospect pool, acquisition, and word of mouth.

Acquisition is marketing-driven plus referral-driven. Promoters refer (passives
and detractors far less, Bain); a minority of detractors are *active* and spread
negative word of mouth (ForeSee 2013), which lowers the conversion of every
prospect and raises the churn of their network neighbours (Goldenberg et al.
2007). Prospects are finite: acquired customers leave the pool and churned
customers return to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics import categories

if TYPE_CHECKING:
    from sim.config import MarketConf
    from sim.customers import CustomerStore
    from sim.streams import Streams

__all__ = ["Acquisition", "Market", "Referrals"]


@dataclass
class Referrals:
    """Referrals made this week, by the referrer's category."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def total(self) -> int:
        """All referrals."""
        return self.promoters + self.passives + self.detractors


@dataclass
class Acquisition:
    """New customers this week, by channel."""

    marketing: int = 0
    referral: int = 0

    @property
    def total(self) -> int:
        """All new customers."""
        return self.marketing + self.referral


class Market:
    """The prospect pool and the acquisition channels."""

    def __init__(self, cfg: MarketConf, initial_customers: int) -> None:
        """Create the prospect pool.

        Args:
            cfg: Market configuration.
            initial_customers: Size of the initial book.
        """
        self.cfg = cfg
        self.prospects = round(cfg.prospect_pool_ratio * initial_customers)

    def active_detractors(self, store: CustomerStore) -> np.ndarray:
        """Active customers who are detractors and vocal: they spread negative word of mouth."""
        n = store.n
        _, detractor = categories(store.true_ltr[:n])
        return store.active[:n] & detractor & (store.vocal[:n] < self.cfg.active_detractor_share)

    def referrals(self, store: CustomerStore, streams: Streams) -> Referrals:
        """Active customers recommend the firm: promoters at ``referral_rate``, others at a fraction of it."""
        c, n = self.cfg, store.n
        promoter, detractor = categories(store.true_ltr[:n])
        rate = np.where(promoter, 1.0, np.where(detractor, c.detractor_referral_factor, c.passive_referral_factor))
        refers = store.active[:n] & (streams.uniform("wom:refer", n) < c.referral_rate * rate)
        store.referrals_made[np.flatnonzero(refers)] += 1
        return Referrals(
            promoters=int((refers & promoter).sum()),
            passives=int((refers & ~promoter & ~detractor).sum()),
            detractors=int((refers & detractor).sum()),
        )

    def acquire(
        self, referrals: int, campaign: float, conversion_boost: float, active_detractor_share: float,
        streams: Streams,
    ) -> Acquisition:
        """Draw this week's new customers from the prospect pool.

        Args:
            referrals: Referrals made this week.
            campaign: Marketing acquisition multiplier (campaign volume x its effect).
            conversion_boost: Relative conversion increase from Sales' over-promising.
            active_detractor_share: Active detractors / active customers (negative word of mouth).
            streams: Random streams.

        Returns:
            New customers by channel (the pool is reduced accordingly).
        """
        c = self.cfg
        rng = streams.rng("acquisition")
        conversion = max(0.0, 1.0 - c.negative_wom_conversion * active_detractor_share) * (1.0 + conversion_boost)
        p_mkt = min(1.0, c.marketing_acquisition_rate * campaign * conversion)
        marketing = int(rng.binomial(self.prospects, p_mkt))
        p_ref = min(1.0, c.referral_conversion * conversion)
        referral = min(int(rng.binomial(referrals, p_ref)), self.prospects - marketing)
        self.prospects -= marketing + referral
        return Acquisition(marketing=marketing, referral=referral)

    def returned(self, churned: int) -> None:
        """Churned customers go back to the prospect pool."""
        self.prospects += churned
