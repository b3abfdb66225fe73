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
from numba import njit

from sim.engine.metrics import DETRACTOR_MAX, categories

if TYPE_CHECKING:
    from sim.config.schema import MarketConf
    from sim.engine.customers import CustomerStore
    from sim.engine.streams import Streams

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
        self.referred = Referrals()  # this week's referrals
        self.acquired = Acquisition()  # this week's new customers

    def record(self) -> dict[str, int]:
        """This week's market columns of metrics.parquet (the prospect pool after this week's churn)."""
        return {
            "acquired": self.acquired.total,
            "referrals": self.referred.total,
            "referrals_from_promoters": self.referred.promoters,
            "referrals_from_passives": self.referred.passives,
            "referrals_from_detractors": self.referred.detractors,
            "acquired_marketing": self.acquired.marketing,
            "acquired_referral": self.acquired.referral,
            "prospects": self.prospects,
        }

    def active_detractors(self, store: CustomerStore) -> np.ndarray:
        """Active customers who are detractors and vocal: they spread negative word of mouth."""
        n = store.n
        flag = np.empty(n, dtype=np.bool_)
        _active_detractors(
            store.active[:n], store.true_ltr[:n], store.vocal[:n], np.float32(self.cfg.active_detractor_share), flag
        )
        return flag

    def referrals(self, store: CustomerStore, streams: Streams) -> Referrals:
        """Active customers recommend the firm: promoters at ``referral_rate``, others at a fraction of it."""
        cfg, n = self.cfg, store.n
        # one stream of bits per row; candidates are the rows below the highest category's threshold,
        # then each candidate is checked against its own category's threshold
        by_category = {
            "promoter": cfg.referral_rate,
            "passive": cfg.referral_rate * cfg.passive_referral_factor,
            "detractor": cfg.referral_rate * cfg.detractor_referral_factor,
        }
        threshold = {k: np.uint32(min(max(p, 0.0), 1.0 - 2.0**-32) * 2.0**32) for k, p in by_category.items()}
        bits = streams.dense_bits("wom:refer", n)
        candidates = bits < max(threshold.values())
        candidates &= store.active[:n]
        rows = np.flatnonzero(candidates)
        promoter, detractor = categories(store.true_ltr[rows])
        limit = np.where(
            promoter, threshold["promoter"], np.where(detractor, threshold["detractor"], threshold["passive"])
        )
        refers = bits[rows] < limit
        rows, promoter, detractor = rows[refers], promoter[refers], detractor[refers]
        store.referrals_made[rows] += 1
        promoters, detractors = int(np.count_nonzero(promoter)), int(np.count_nonzero(detractor))
        return Referrals(promoters=promoters, passives=int(rows.size) - promoters - detractors, detractors=detractors)

    def acquire(
        self,
        referrals: Referrals,
        campaign: float,
        conversion_boost: float,
        active_detractor_share: float,
        streams: Streams,
    ) -> Acquisition:
        """Draw this week's new customers from the prospect pool.

        Args:
            referrals: Referrals made this week, by the referrer's category.
            campaign: Marketing acquisition multiplier (campaign volume x its effect).
            conversion_boost: Relative conversion increase from Sales' over-promising.
            active_detractor_share: Active detractors / active customers (negative word of mouth).
            streams: Random streams.

        Returns:
            New customers by channel (the pool is reduced accordingly).
        """
        cfg = self.cfg
        rng = streams.rng("acquisition")
        conversion = max(0.0, 1.0 - cfg.negative_wom_conversion * active_detractor_share) * (1.0 + conversion_boost)
        p_marketing = min(1.0, cfg.marketing_acquisition_rate * campaign * conversion)
        marketing = int(rng.binomial(self.prospects, p_marketing))
        p_referral = min(1.0, cfg.referral_conversion * conversion)
        referral = min(int(rng.binomial(referrals.total, p_referral)), self.prospects - marketing)
        self.prospects -= marketing + referral
        self.referred = referrals
        self.acquired = Acquisition(marketing=marketing, referral=referral)
        return self.acquired

    def returned(self, churned: int) -> None:
        """Churned customers go back to the prospect pool."""
        self.prospects += churned


@njit(cache=True)
def _active_detractors(active, ltr, vocal, share, out):
    """out[i]: row i is active, a detractor and vocal (``vocal`` below ``share``, compared in float32)."""
    for i in range(active.size):
        out[i] = active[i] & (ltr[i] <= DETRACTOR_MAX) & (vocal[i] < share)
