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
from numba import njit

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
        _count_new_links(src, dst, self._flag, self._counts)

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
        n = self.n
        self._out_ptr = np.zeros(n + 1, dtype=np.int64)
        self._in_ptr = np.zeros(n + 1, dtype=np.int64)
        self._in_src = np.empty(self.m, dtype=np.int32)
        _build_index(self.src, self.dst, self._out_ptr, self._in_ptr, self._in_src)
        self._edges_indexed, self._nodes_indexed = self.m, n

    def exposure(self, flag: np.ndarray) -> np.ndarray:
        """How many flagged neighbours every node has (a view, valid until the next call or new nodes).

        Costs a pass over ``flag`` plus time in proportion to the links of the nodes whose flag
        changed since the previous call (and a pass over the links added since the index was built).

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            int32 counts over rows ``0 .. n-1``.
        """
        n = self.n
        self._grow_tracking(n)
        if self.m - self._edges_indexed > self._REINDEX_SHARE * self._edges_indexed:
            self._reindex()
        _update_counts(
            flag[:n],
            self._flag[:n],
            self._counts,
            self._nodes_indexed,
            self._out_ptr,
            self._dst,
            self._in_ptr,
            self._in_src,
            self._src[self._edges_indexed : self.m],
            self._dst[self._edges_indexed : self.m],
        )
        return self._counts[:n]

    def count_neighbours(self, flag: np.ndarray) -> np.ndarray:
        """For every node, how many of its neighbours have ``flag`` set (a copy of :meth:`exposure`).

        Args:
            flag: Boolean array over rows (length at least ``n``).

        Returns:
            Integer counts, one per row.
        """
        return self.exposure(flag).astype(np.int64)

    def neighbours(self, row: int) -> np.ndarray:
        """Rows linked to ``row`` (for the tracked panel and the dashboard; O(edges))."""
        return np.unique(np.concatenate([self.dst[self.src == row], self.src[self.dst == row]]))

    def degrees(self) -> np.ndarray:
        """Degree of every node."""
        return np.bincount(self.src, minlength=self.n) + np.bincount(self.dst, minlength=self.n)


@njit(cache=True)
def _count_new_links(src, dst, flag, counts):
    """New links count towards the tracked neighbour counts: each end gains the other's flag."""
    for e in range(src.size):
        a, b = src[e], dst[e]
        counts[b] += flag[a]
        counts[a] += flag[b]


@njit(cache=True)
def _build_index(src, dst, out_ptr, in_ptr, in_src):
    """The adjacency index (CSR) in both directions, in time linear in the edges.

    Out-edges of v are out_ptr[v]..out_ptr[v+1] (src is non-decreasing), and in_src[in_ptr[v]..in_ptr[v+1]]
    are the sources of the edges into v, in edge order (a stable counting sort).
    """
    for e in range(src.size):
        out_ptr[src[e] + 1] += 1
        in_ptr[dst[e] + 1] += 1
    for v in range(out_ptr.size - 1):
        out_ptr[v + 1] += out_ptr[v]
        in_ptr[v + 1] += in_ptr[v]
    fill = in_ptr[:-1].copy()
    for e in range(src.size):
        v = dst[e]
        in_src[fill[v]] = src[e]
        fill[v] += 1


@njit(cache=True)
def _update_counts(flag, tracked, counts, nodes_indexed, out_ptr, dst, in_ptr, in_src, pending_src, pending_dst):
    """Bring every node's count of flagged neighbours from the ``tracked`` flags to ``flag`` (and track it).

    A node whose flag changed adds +1 or -1 to each neighbour: through the index for the links it covers,
    and by a scan of the links added since (``pending_src``, ``pending_dst``).
    """
    if pending_src.size:
        for e in range(pending_src.size):
            a, b = pending_src[e], pending_dst[e]
            if flag[a] != tracked[a]:
                counts[b] += 1 if flag[a] else -1
            if flag[b] != tracked[b]:
                counts[a] += 1 if flag[b] else -1
    for v in range(flag.size):
        if flag[v] == tracked[v]:
            continue
        sign = 1 if flag[v] else -1
        tracked[v] = flag[v]
        if v < nodes_indexed:
            for e in range(out_ptr[v], out_ptr[v + 1]):
                counts[dst[e]] += sign
            for e in range(in_ptr[v], in_ptr[v + 1]):
                counts[in_src[e]] += sign
