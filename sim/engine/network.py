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

    Counts of flagged neighbours are kept up to date incrementally: each call compares the flag
    with the one of the previous call and updates only the neighbours of nodes whose flag changed
    (and new links as they are added), so a weekly count costs one pass over the flags plus the
    links of the nodes that changed.
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
        # incremental neighbour counts: the flag of the last count, and each node's flagged neighbours
        self._flag = np.zeros(0, dtype=bool)
        self._counts = np.zeros(0, dtype=np.int32)

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
        # new links count towards the tracked neighbour counts at once
        top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
        self._grow_tracking(top)
        np.add.at(self._counts, dst, self._flag[src])
        np.add.at(self._counts, src, self._flag[dst])

    def _grow_tracking(self, n: int) -> None:
        """Make the tracked flag and counts cover ``n`` nodes."""
        if n > self._flag.size:
            cap = max(n, int(self._flag.size * 1.25) + 1024)
            flag, counts = np.zeros(cap, dtype=bool), np.zeros(cap, dtype=np.int32)
            flag[: self._flag.size] = self._flag
            counts[: self._counts.size] = self._counts
            self._flag, self._counts = flag, counts

    def _reindex(self) -> None:
        """Build the adjacency index over all current edges."""
        src, dst, n = self.src, self.dst, self.n
        self._out_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
        order = np.argsort(dst, kind="stable")  # dst is nearly sorted (a ring), which timsort exploits
        self._in_src = src[order]
        self._in_ptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))])
        self._edges_indexed, self._nodes_indexed = self.m, n

    @staticmethod
    def _ranges(ptr: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions ptr[v] .. ptr[v+1]-1 for every v in ``nodes``, concatenated, and each v's count."""
        begin, end = ptr[nodes], ptr[nodes + 1]
        lens = end - begin
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), lens
        shift = np.repeat(begin - (np.cumsum(lens) - lens), lens)
        return shift + np.arange(total), lens

    def _neighbours_of(self, nodes: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every link end of ``nodes`` through the index and the pending links, each with its node's weight."""
        pending = self.m - self._edges_indexed
        if pending > self._REINDEX_SHARE * self._edges_indexed:
            self._reindex()
            pending = 0
        indexed = nodes < self._nodes_indexed
        nodes_i, weight_i = nodes[indexed], weight[indexed]
        out_pos, out_lens = self._ranges(self._out_ptr, nodes_i)
        in_pos, in_lens = self._ranges(self._in_ptr, nodes_i)
        ends = [self._dst[out_pos], self._in_src[in_pos]]
        weights = [np.repeat(weight_i, out_lens), np.repeat(weight_i, in_lens)]
        if pending:
            w = np.zeros(self.n, dtype=np.int32)
            w[nodes] = weight
            src, dst = self._src[self._edges_indexed : self.m], self._dst[self._edges_indexed : self.m]
            for a, b in ((src, dst), (dst, src)):
                hit = np.flatnonzero(w[a])
                ends.append(b[hit])
                weights.append(w[a[hit]])
        return np.concatenate(ends), np.concatenate(weights)

    def neighbour_counts(self, flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows with at least one flagged neighbour, and how many they have (sparse, sorted by row).

        Costs a pass over ``flag`` plus time in proportion to the links of the nodes whose flag
        changed since the previous call.

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            (rows, counts): the rows and their counts of flagged neighbours.
        """
        n = self.n
        self._grow_tracking(n)
        f = flag[:n]
        changed = np.flatnonzero(f != self._flag[:n])
        if changed.size:
            sign = np.where(f[changed], 1, -1).astype(np.int32)
            ends, weights = self._neighbours_of(changed, sign)
            np.add.at(self._counts, ends, weights)
            self._flag[changed] = f[changed]
        counts = self._counts[:n]
        rows = np.flatnonzero(counts)
        return rows, counts[rows].astype(np.int64)

    def count_neighbours(self, flag: np.ndarray) -> np.ndarray:
        """For every node, how many of its neighbours have ``flag`` set.

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            Integer counts, one per row.
        """
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
