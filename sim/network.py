"""The word-of-mouth graph: a Watts-Strogatz small world kept as edge arrays.

Customers are laid on a ring in the order they join; each links to its
``degree / 2`` predecessors on the ring, and each link is rewired with
probability ``rewire_prob`` to a uniformly chosen earlier customer (Watts &
Strogatz 1998). The ring gives high clustering, the rewired links short paths.
New customers join the ring in blocks, so the graph grows with the book in
linear time and memory (no networkx, which does not scale to a million nodes).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Network"]


class Network:
    """An undirected graph over customer rows, stored as two int32 edge arrays."""

    def __init__(self, degree: int, rewire_prob: float) -> None:
        """Create an empty graph.

        Args:
            degree: Mean degree (even): each node adds degree/2 links when it joins.
            rewire_prob: Probability that a link is rewired to a random earlier node.
        """
        self.half = degree // 2
        self.rewire_prob = rewire_prob
        self.src = np.empty(0, dtype=np.int32)
        self.dst = np.empty(0, dtype=np.int32)
        self.n = 0

    def add_nodes(self, rows: slice, rng: np.random.Generator) -> None:
        """Add the nodes ``rows`` (contiguous, appended after the existing ones).

        Args:
            rows: The new rows.
            rng: The network random stream.
        """
        start, stop = rows.start, rows.stop
        count = stop - start
        if count <= 0 or self.half == 0:
            self.n = max(self.n, stop)
            return
        first_block = start == 0
        nodes = np.arange(start, stop, dtype=np.int64)
        offsets = np.arange(1, self.half + 1, dtype=np.int64)
        src = np.repeat(nodes, self.half)
        dst = src - np.tile(offsets, count)
        if first_block:
            dst %= count  # close the initial ring
        # rewiring: a uniformly chosen earlier node (any node for the initial ring)
        rewire = rng.random(src.size) < self.rewire_prob
        upper = np.where(first_block, count, src)
        dst = np.where(rewire, (rng.random(src.size) * upper).astype(np.int64), dst)
        keep = (dst >= 0) & (dst != src)
        self.src = np.concatenate([self.src, src[keep].astype(np.int32)])
        self.dst = np.concatenate([self.dst, dst[keep].astype(np.int32)])
        self.n = stop

    def count_neighbours(self, flag: np.ndarray) -> np.ndarray:
        """For every node, how many of its neighbours have ``flag`` set.

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            Integer counts, one per row.
        """
        f = flag[: self.n]
        counts = np.bincount(self.dst[f[self.src]], minlength=self.n)
        counts += np.bincount(self.src[f[self.dst]], minlength=self.n)
        return counts

    def neighbours(self, row: int) -> np.ndarray:
        """Rows linked to ``row`` (for the tracked panel and the dashboard; O(edges))."""
        return np.unique(np.concatenate([self.dst[self.src == row], self.src[self.dst == row]]))

    def degrees(self) -> np.ndarray:
        """Degree of every node."""
        return np.bincount(self.src, minlength=self.n) + np.bincount(self.dst, minlength=self.n)
