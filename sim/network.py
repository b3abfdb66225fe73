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
    """An undirected graph over customer rows, stored as two int32 edge arrays.

    Edges live in buffers that grow geometrically, so adding a block of customers costs time in
    proportion to the block, not to the graph. Neighbour look-ups go through an adjacency index
    (CSR, both directions) of the edges present when it was last built; edges added since are
    scanned directly, and the index is rebuilt once they are more than ``_REINDEX_SHARE`` of it,
    which keeps every look-up and the upkeep linear in the size of the graph.
    """

    _REINDEX_SHARE = 0.125

    def __init__(self, degree: int, rewire_prob: float) -> None:
        """Create an empty graph.

        Args:
            degree: Mean degree (even): each node adds degree/2 links when it joins.
            rewire_prob: Probability that a link is rewired to a random earlier node.
        """
        self.half = degree // 2
        self.rewire_prob = rewire_prob
        self._src = np.empty(0, dtype=np.int32)
        self._dst = np.empty(0, dtype=np.int32)
        self.m = 0  # edges in use
        self.n = 0
        # adjacency index over the first _edges_indexed edges (nodes below _nodes_indexed)
        self._edges_indexed = 0
        self._nodes_indexed = 0
        self._out_ptr = np.zeros(1, dtype=np.int64)  # src is non-decreasing: out-edges of v are a range
        self._in_ptr = np.zeros(1, dtype=np.int64)
        self._in_src = np.empty(0, dtype=np.int32)  # src of the indexed edges, ordered by dst

    @property
    def src(self) -> np.ndarray:
        """Source row of every edge (the node that created the link; non-decreasing)."""
        return self._src[: self.m]

    @property
    def dst(self) -> np.ndarray:
        """Destination row of every edge (an earlier node)."""
        return self._dst[: self.m]

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
        self._append(src[keep], dst[keep])
        self.n = stop

    def _append(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Append edges, growing the buffers geometrically."""
        need = self.m + src.size
        if need > self._src.size:
            cap = max(need, int(self._src.size * 1.5) + 1024)
            for name in ("_src", "_dst"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=np.int32)
                new[: self.m] = old[: self.m]
                setattr(self, name, new)
        self._src[self.m : need] = src
        self._dst[self.m : need] = dst
        self.m = need

    def _reindex(self) -> None:
        """Build the adjacency index over all current edges."""
        src, dst, n = self.src, self.dst, self.n
        self._out_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
        order = np.argsort(dst, kind="stable")  # dst is nearly sorted (a ring), which timsort exploits
        self._in_src = src[order]
        self._in_ptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))])
        self._edges_indexed, self._nodes_indexed = self.m, n

    @staticmethod
    def _ranges(ptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Positions ptr[v] .. ptr[v+1]-1 for every v in ``nodes``, concatenated."""
        begin, end = ptr[nodes], ptr[nodes + 1]
        lens = end - begin
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        shift = np.repeat(begin - (np.cumsum(lens) - lens), lens)
        return shift + np.arange(total)

    def neighbour_counts(self, flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows with at least one flagged neighbour, and how many they have (sparse, sorted by row).

        Costs a pass over ``flag`` plus time in proportion to the flagged nodes' links.

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            (rows, counts): the rows and their counts of flagged neighbours.
        """
        pending = self.m - self._edges_indexed
        if pending > self._REINDEX_SHARE * self._edges_indexed:
            self._reindex()
            pending = 0
        f = flag[: self.n]
        flagged = np.flatnonzero(f[: self._nodes_indexed])
        parts = [
            self._dst[self._ranges(self._out_ptr, flagged)],
            self._in_src[self._ranges(self._in_ptr, flagged)],
        ]
        if pending:
            src, dst = self._src[self._edges_indexed : self.m], self._dst[self._edges_indexed : self.m]
            parts += [dst[f[src]], src[f[dst]]]
        counts = np.bincount(np.concatenate(parts), minlength=self.n)
        rows = np.flatnonzero(counts)
        return rows, counts[rows]

    def count_neighbours(self, flag: np.ndarray) -> np.ndarray:
        """For every node, how many of its neighbours have ``flag`` set.

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            Integer counts, one per row.
        """
        pending = self.m - self._edges_indexed
        if pending > self._REINDEX_SHARE * self._edges_indexed:
            self._reindex()
        rows, counts = self.neighbour_counts(flag)
        out = np.zeros(self.n, dtype=np.int64)
        out[rows] = counts
        return out

    def neighbours(self, row: int) -> np.ndarray:
        """Rows linked to ``row`` (for the tracked panel and the dashboard; O(edges))."""
        return np.unique(np.concatenate([self.dst[self.src == row], self.src[self.dst == row]]))

    def degrees(self) -> np.ndarray:
        """Degree of every node."""
        return np.bincount(self.src, minlength=self.n) + np.bincount(self.dst, minlength=self.n)
