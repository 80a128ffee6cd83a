"""Gradient descent on Dask arrays: the in-memory trainers, chunk by chunk.

``gdfast.dask.batch_gd``, ``sgd`` and ``minibatch_gd`` take a Dask array
``X`` (rows in chunks; column chunks are merged) and ``y`` and return the
same :class:`~gdfast.TrainResult` as ``gdfast.batch_gd`` etc. on the
concatenated data, running on whatever Dask scheduler is active (the local
threads by default, or a ``distributed.Client``'s cluster). Install with
``pip install 'gdfast[dask]'``; ``import gdfast`` never imports Dask.

How each trainer runs (docs/dask.md has the guarantees and the costs):

* ``batch_gd`` method "stats": tree reductions (``SPLIT_EVERY`` partials
  per node) of per-chunk statistics -- counts, means and centred co-moments
  merged with the exact pairwise (Chan et al.) update, then the residual
  sums about the least-squares centre; from ``gdfast._stats.ONE_PASS_MIN``
  rows one reduction usually serves both, as in memory (a pilot fit of the
  first chunk's first rows taken out of y as the moments are read) -- and
  every epoch on the client from ``d x d`` numbers (gdfast._stats.whole_run).
  Method "pass": one tree reduction of ``_rows.pass_sums`` per epoch.
* ``sgd`` and ``minibatch_gd``: a chain of tasks per epoch; chunk k's task
  takes the weights from chunk k-1's task (``d + 1`` numbers, plus the rows
  of an unfinished mini-batch) and runs the in-memory kernel on its chunk.
  Unshuffled, results are bit-identical to the in-memory trainer on
  ``X.compute()`` ("plain" SGD; mini-batches for 2-D ``X``).
* ``sgd`` method "affine" (one feature, no intercept, no penalty): every
  chunk's pass is the affine map ``w -> A*w + B``; the maps are computed in
  parallel and composed in order on the client; unshuffled, all epochs
  share one map, so the data are read once whatever ``epochs`` is.

Shuffling (``shuffle=True``) visits the chunks in a random order and each
chunk's rows in a random order, drawn reproducibly from ``seed``: rows never
leave their chunk. This is not the global permutation of the in-memory
trainer (which would move the data); :func:`row_order` gives the order used.
"""

import functools
import itertools
import math
import uuid

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph
except ImportError as exc:
    raise ImportError(f"gdfast.dask needs dask ({exc}): pip install 'gdfast[dask]'") from exc

from . import _chunks, _compiled, _driver, _kernels, _plan, _rows, _shuffle, _stats, _validate

__all__ = ["batch_gd", "sgd", "minibatch_gd", "persist", "row_order", "SPLIT_EVERY"]

#: Partials combined per node of the statistics and pass reduction trees.
SPLIT_EVERY = 8

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


# ------------------------------------------------------------------- data

class _Data:
    """Validated Dask data: X as (n, d) with one column chunk, or 1-D (flat:
    one feature, its chunks passed as they are -- tasks view them as (m, 1),
    which costs no task of its own), y (n,) with X's row chunks; the chunks'
    keys and global row offsets."""

    __slots__ = ("X", "y", "flat", "n", "d", "sizes", "offsets", "xkeys", "ykeys")

    def __init__(self, X, y, flat):
        self.X, self.y, self.flat = X, y, flat
        self.n, self.d = int(X.shape[0]), int(X.shape[1]) if X.ndim == 2 else 1
        self.sizes = tuple(int(c) for c in X.chunks[0])
        self.offsets = tuple(int(o) for o in np.cumsum((0,) + self.sizes[:-1]))
        keys = X.__dask_keys__()
        self.xkeys = _sources(X, [row[0] for row in keys] if X.ndim == 2 else list(keys))
        self.ykeys = _sources(y, list(y.__dask_keys__()))

    def graph(self, what):
        return _Graph(self, what)

    @property
    def chunks(self):
        return len(self.sizes)


def _sources(a, keys):
    """The chunks' keys with aliases followed (a concatenation's or a
    chunk-aligned slice's keys only name their source chunks): the tasks
    then take the source chunks themselves -- one task less per chunk, and
    where they are in a cluster's memory, _placement sees where."""
    graph = a.__dask_graph__()
    out = []
    for key in keys:
        for _ in range(8):
            try:
                v = graph[key]
            except (KeyError, TypeError):
                break
            target = getattr(v, "target", None) if type(v).__name__ == "Alias" else v
            target = getattr(target, "key", target)        # a TaskRef
            if not isinstance(target, (tuple, str)) or target == key:
                break
            try:
                if target not in graph:
                    break
            except TypeError:                              # unhashable: a task
                break
            key = target
        out.append(key)
    return out


def _is_dask(a):
    return isinstance(a, da.Array)


def _dask_dtype(a, name):
    kind = a.dtype.kind
    if kind not in "fiub":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}"
                        + (" (complex is not supported)" if kind == "c" else ""))
    if kind == "b":
        raise TypeError(f"{name} must be real numbers, got dtype bool")
    if a.dtype in (_F32, _F64):
        return a
    if a.dtype.kind == "f" and a.dtype.itemsize > 8:   # longdouble: may not fit
        return a.map_blocks(_longdouble_to_f64, name, dtype=np.float64)
    return a.astype(np.float64)           # ints, float16: as float()


def _longdouble_to_f64(block, name, block_info=None):
    """A longdouble chunk as float64, converted as in memory
    (_validate.as_float64): a value beyond float64's range is refused by
    its global index."""
    return _validate.as_float64(block, name, [lo for lo, _ in block_info[0]["array-location"]])


def _frame_to_array(a):
    """A Dask DataFrame or Series as a Dask array of its values with known
    chunk sizes (``to_dask_array(lengths=True)``: each partition's length,
    computed where not known: for a lazily built frame, one more read of
    each partition); anything else as it is. (np.asarray on one computed the
    whole frame in the client's memory.)"""
    return a.to_dask_array(lengths=True) if _validate.is_dask_frame(a) else a


def _data(X, y, names=("X", "y")):
    """Validate and align a (Dask) data pair -> _Data. One of X, y may be an
    in-memory array (it is wrapped with the other's row chunks); a Dask
    DataFrame or Series is taken as the array of its values."""
    nx, ny = names
    X, y = _frame_to_array(X), _frame_to_array(y)
    if not (_is_dask(X) or _is_dask(y)):
        raise TypeError(f"{nx} must be a dask.array.Array (got {type(X).__name__}); "
                        "for in-memory data use gdfast.batch_gd / sgd / minibatch_gd")
    if not _is_dask(X):
        X = _validate._array(X, nx, 2)
        X = da.from_array(X, chunks=(y.chunks[0],) + X.shape[1:]) \
            if X.ndim and y.ndim == 1 and X.shape[0] == y.shape[0] else da.from_array(X)
    if not _is_dask(y):
        y = _validate._array(y, ny, 1)
        y = da.from_array(y, chunks=(X.chunks[0],)) \
            if y.ndim == 1 and X.ndim and y.shape[0] == X.shape[0] else da.from_array(y)
    if X.ndim not in (1, 2):
        raise ValueError(f"{nx} must be 1-D or 2-D, got {X.ndim} dimensions "
                         f"(shape {X.shape})")
    if y.ndim != 1:
        raise ValueError(f"{ny} must be one-dimensional, got {y.ndim} dimensions "
                         f"(shape {y.shape})")
    for a, name in ((X, nx), (y, ny)):
        meta = getattr(a, "_meta", None)            # the type of its chunks
        if isinstance(meta, np.ma.MaskedArray):
            raise TypeError(f"{name} must not be a masked array: its mask would be "
                            f"ignored; pass {name}.map_blocks(np.ma.filled) or drop the "
                            "masked rows")
        if meta is not None and not isinstance(meta, np.ndarray):
            raise TypeError(f"{name}'s chunks must be numpy arrays, got "
                            f"{type(meta).__module__}.{type(meta).__name__} (sparse and "
                            "other chunk types are not supported)")
        if any(math.isnan(c) for axis in a.chunks for c in axis):
            raise ValueError(f"{name} has unknown chunk sizes (a filtered or "
                             f"concatenated dask array); call {name}.compute_chunk_sizes() "
                             "first")
    X, y = _dask_dtype(X, nx), _dask_dtype(y, ny)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same length, got "
                         f"{X.shape[0]} and {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError(f"{nx} and {ny} must not be empty")
    flat = X.ndim == 1
    _validate.require_columns(X, nx)
    if not flat and X.numblocks[1] > 1:
        X = X.rechunk({1: -1})             # whole rows in every chunk
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})    # y's rows beside X's rows
    return _Data(X, y, flat)


def _rows_of(Xk):
    """A chunk as a C-contiguous float32/float64 (m, d) array (a view when it
    already is one; a 1-D chunk as (m, 1))."""
    if Xk.ndim == 1:
        Xk = Xk[:, None]
    if Xk.dtype not in (_F32, _F64):
        return np.ascontiguousarray(Xk, dtype=np.float64)
    return np.ascontiguousarray(Xk)


def _pair_of(Xk, yk, d):
    """A chunk's rows (_rows_of) and its y, C-contiguous, checked against
    each other and against the array's d columns: a chunk whose real shape
    differs from its declared one (a map_blocks or a reader returning other
    shapes) would have a kernel read past its end."""
    X, yv = _rows_of(Xk), np.ascontiguousarray(yk)
    if X.shape[1] != d or yv.ndim != 1 or yv.shape[0] != X.shape[0]:
        raise ValueError(
            f"a chunk holds X of shape {np.shape(Xk)} and y of shape {np.shape(yk)}, where "
            f"the arrays declare {d} column(s) and one y per row: the chunks' real shapes "
            "must match their declared ones (check what makes them, e.g. a map_blocks)")
    return X, yv


def _first_bad(Xk, yk):
    """Local index of the first non-finite value of a chunk's X and y (or None)."""
    out = []
    for a in (Xk, yk):
        bad = ~np.isfinite(a)
        if bad.any():
            where = np.argwhere(bad)[0]
            out.append((tuple(int(i) for i in where), a[tuple(where)].item()))
        else:
            out.append(None)
    return out


def _raise_if_nonfinite(dd):
    """ValueError naming the first non-finite value of X, then of y, by its
    global index (the in-memory trainers' message)."""
    g = dd.graph("check")
    found = g.compute(g.task(_tuple, *[g.task(_first_bad, xk, yk)
                                       for xk, yk in zip(dd.xkeys, dd.ykeys)]))
    names = ("X", "y")
    for which in (0, 1):
        for off, hit in zip(dd.offsets, found):
            if hit[which] is not None:
                where, value = hit[which]
                row = off + where[0]
                idx = str(row) if (which == 1 or dd.flat) else f"({row}, {where[1]})"
                raise ValueError(f"{names[which]} must be finite, got "
                                 f"{np.float64(value)} at index {idx}")


def _tuple(*parts):
    return parts


# ------------------------------------------------- where the chunks live

def _client():
    """The active distributed.Client, or None (threads, processes, sync)."""
    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if client is not None and type(client).__name__ == "Client" else None


def _placement(dd, both=False):
    """Per chunk, the workers holding both its X and its y chunk (a frozenset;
    those of the one in memory when the other is not, e.g. an in-memory y
    wrapped here), or None when that is not known: only on a distributed
    cluster, for data already in its memory (persisted); one scheduler round
    trip. With ``both``: None unless every chunk of X and of y is held."""
    client = _client()
    if client is None:
        return None
    futures = client.futures_of([dd.X, dd.y])
    if not futures:
        return None
    where = client.who_has(futures)
    out = []
    for xk, yk in zip(dd.xkeys, dd.ykeys):
        wx, wy = frozenset(where.get(xk, ())), frozenset(where.get(yk, ()))
        if both and not (wx and wy):
            return None
        out.append(((wx & wy) if wx and wy else (wx or wy)) or None)
    return out if any(out) else None


def _runs(visit, where):
    """The visiting order cut into runs of consecutive chunks that live on
    one common worker (one chunk per run where placement is unknown)."""
    runs, common = [], None
    for k in visit:
        loc = where[k] if where is not None else None
        if runs and loc is not None and common is not None and common & loc:
            runs[-1].append(k)
            common = common & loc
        else:
            runs.append([k])
            common = loc
    return runs


def _by_worker(visit, where, slots=None):
    """The chunks grouped by a worker that holds them (where a chunk has
    copies on several, the group so far smallest), each group in visiting
    order and cut into as many parts as that worker has threads (``slots``:
    address -> threads; the parts run side by side); a chunk of unknown
    placement alone."""
    groups, alone = {}, []
    for k in visit:
        loc = where[k] if where is not None else None
        if loc is None:
            alone.append([k])
        else:
            home = min(sorted(loc), key=lambda a: len(groups.get(a, ())))
            groups.setdefault(home, []).append(k)
    out = []
    for home, ks in groups.items():
        parts = max(1, min(len(ks), (slots or {}).get(home, 1)))
        step = -(-len(ks) // parts)
        out += [ks[i:i + step] for i in range(0, len(ks), step)]
    return out + alone


def _chain(step, width, state, *parts):
    """``step(Xk, yk, state, *extra)`` over consecutive chunks in one task
    (``parts``: ``width`` values per chunk, X's and y's chunk first): the
    same calls, in the same order, as one task per chunk -- the same bits --
    without a scheduler round trip between chunks that live on one worker."""
    for i in range(0, len(parts), width):
        state = step(parts[i], parts[i + 1], state, *parts[i + 2:i + width])
    return state


#: Runs of chunks per graph of an SGD or mini-batch epoch: the chain is
#: computed a segment at a time, its state (d + 3 numbers, and a mini-batch's
#: unfinished rows) passing through the client between segments (a round
#: trip each), since dask's ordering of one long chain whose every task takes
#: a new chunk costs time and memory quadratic in its length (adversarial
#: testing: an epoch over tens of thousands of chunks ran out of memory).
CHAIN_SEGMENT = 256


def _chained(dd, what, step, state, runs, parts):
    """The state after ``step`` over every chunk of ``runs`` in order (one
    _chain task per run; ``parts(k)``: chunk k's arguments after the state),
    CHAIN_SEGMENT runs per graph."""
    for lo in range(0, len(runs), CHAIN_SEGMENT):
        g = dd.graph(what)
        key = g.task(_tuple, *state)
        for run in runs[lo:lo + CHAIN_SEGMENT]:
            args = [v for k in run for v in parts(k)]
            key = g.task(_chain, step, len(args) // len(run), key, *args)
        state = g.compute(key)
    return state


class _Graph:
    """One computation over the chunks of a _Data, as a plain task graph
    layered on X's and y's graphs (built directly: dask.delayed's per-call
    graph merging costs more than the tasks of a small chunk). Every graph
    gets fresh keys: a run never reuses keys of an earlier run, which a
    distributed scheduler may still be forgetting."""

    __slots__ = ("dd", "name", "layer")

    def __init__(self, dd, what):
        self.dd, self.layer = dd, {}
        self.name = f"gdfast-{what}-{uuid.uuid4().hex}"

    def task(self, func, *args):
        """Add ``func(*args)``; args may be keys of chunks or of earlier
        tasks (their values are passed), or plain values. Returns its key."""
        key = (self.name, len(self.layer))
        self.layer[key] = (func,) + args
        return key

    def tree(self, parts, combine, split_every=SPLIT_EVERY):
        """A reduction tree over task keys, combined in order."""
        parts = list(parts)
        if not parts:
            return self.task(combine)
        while len(parts) > 1:
            parts = [self.task(combine, *parts[i:i + split_every])
                     for i in range(0, len(parts), split_every)]
        return parts[0]

    def compute(self, key):
        """The value of one key, on the active scheduler."""
        hlg = HighLevelGraph.from_collections(self.name, self.layer,
                                              dependencies=[self.dd.X, self.dd.y])
        return dask.compute(Delayed(key, hlg, layer=self.name))[0]


# ------------------------------------------------------ the training frame

class _Params:
    __slots__ = ("w", "b", "lr", "epochs", "alpha", "fit_intercept", "callback",
                 "progress", "d", "flat")


def _params(dd, w, b, lr, epochs, alpha, fit_intercept, callback, progress):
    p = _Params()
    p.d, p.flat = dd.d, dd.flat
    _validate.check_training(p, dd.d, dd.flat, w, b, lr, epochs, alpha, fit_intercept,
                             callback, progress)
    return p


def _run(trainer, method, p, dd, epoch):
    """The in-memory driver (gdfast._driver.epochs) over ``epoch(e, w, b) ->
    (w, b, loss)`` or ``(w, b, loss, rss)``, which returns new values (rss:
    the epoch's pre-update squared residuals, for ``epoch_loss_history``),
    with the distributed data check."""
    count = itertools.count()

    def in_place(w, b):
        out = epoch(next(count), w, b)
        w[:] = out[0]
        return (float(out[1]),) + tuple(out[2:])
    return _driver.epochs(trainer, method, p, in_place, data=dd,
                          check=lambda: _raise_if_nonfinite(dd))


def _persist_choice(persist):
    """"auto" (persist on a distributed cluster only), True or False -> bool."""
    if isinstance(persist, str):
        _validate.choice(persist, "persist", ("auto",))
        return _client() is not None
    if isinstance(persist, (bool, np.bool_)):
        return bool(persist)
    raise TypeError(f"persist must be 'auto', True or False, got "
                    f"{type(persist).__name__} {persist!r:.40}")


def _persisted(dd, persist):
    """dd with X and y persisted (when ``persist``): on a distributed cluster
    in contiguous row ranges per worker (_placed), unless they already are
    in its memory (then as they lie); elsewhere as dask.persist."""
    if not persist:
        return dd
    client = _client()
    if client is None:
        X, y = dask.persist(dd.X, dd.y)
        return _Data(X, y, dd.flat)
    if _placement(dd, both=True) is not None:
        return dd                       # every chunk of X and of y is held already
    return _placed(dd, client)


def _placed(dd, client):
    """dd persisted on the cluster's workers in contiguous row ranges: chunk k
    (X's and y's) on worker ``floor(W * mid_k / n)`` of the W workers in
    address order (mid_k: its middle row), so an epoch's chain of tasks
    changes workers W - 1 times instead of up to once per chunk. A chunk may
    be recomputed elsewhere if its worker is lost."""
    workers = sorted(client.nthreads())
    if not workers:
        X, y = client.persist([dd.X, dd.y])
        return _Data(X, y, dd.flat)
    homes = [workers[min(len(workers) - 1, int(len(workers) * (off + m / 2) / dd.n))]
             for off, m in zip(dd.offsets, dd.sizes)]
    xs, ys = [], []
    k = 0
    while k < dd.chunks:          # one persist per range: its rows' X and y
        j = k
        while j < dd.chunks and homes[j] == homes[k]:
            j += 1
        x, v = client.persist([dd.X.blocks[k:j], dd.y.blocks[k:j]], workers=[homes[k]],
                              allow_other_workers=True)
        xs.append(x)
        ys.append(v)
        k = j
    # in memory before the placement is read
    import distributed                    # a client exists: distributed is here
    with client.as_current():
        distributed.wait(client.futures_of(xs + ys))
    return _Data(da.concatenate(xs), da.concatenate(ys), dd.flat)


def persist(X, y):
    """Persist ``X`` and ``y`` for training: on a ``distributed.Client``'s
    cluster with consecutive chunks on the same worker.

    The rows go to the workers in contiguous ranges of about ``n / W`` rows
    (``W`` workers, in address order; a chunk's X and y together), which is
    what an SGD or mini-batch epoch wants: its chain of tasks then moves from
    worker to worker ``W - 1`` times per epoch, not up to once per chunk (a
    hop costs a scheduler round trip: docs/dask.md). The trainers place the
    data this way themselves when they persist it (``persist="auto"`` with
    more than one epoch on a cluster); call this for data you persist
    yourself, e.g. to train one epoch at a time. Without a distributed
    client it is ``dask.persist``.

    Parameters
    ----------
    X, y : dask.array.Array
        As :func:`batch_gd` (validated and aligned the same way).

    Returns
    -------
    (X, y) : tuple of dask.array.Array
        The same values and row chunks, held in the workers' memory (a 2-D
        ``X`` with its columns in one chunk).
    """
    dd = _data(X, y)
    client = _client()
    if client is None:
        return dask.persist(dd.X, dd.y)
    out = _placed(dd, client)
    return out.X, out.y


# ---------------------------------------------------------------- batch_gd

def _moments(Xk, yk, d):
    """(n, xbar, ybar, C = U'U, s_uv = U'v) of one chunk (U, v centred on the
    chunk's own means; gdfast._stats' compiled passes), or None for an empty
    chunk."""
    X, yv = _pair_of(Xk, yk, d)
    if X.shape[0] == 0:
        return None
    return _stats.moments(X, yv)


def _residuals(Xk, yk, xbar, ybar, wstar):
    """[sum e**2, sum e, sum e*u (d), sum u (d)] about the global centre
    (gdfast._stats.residuals)."""
    X, yv = _pair_of(Xk, yk, xbar.shape[0])
    if X.shape[0] == 0:
        return np.zeros(2 + 2 * xbar.shape[0])
    return _stats.residuals(X, yv, xbar, ybar, wstar)


def _pilot(Xk, yk, d):
    """(w0, shift) of gdfast._stats' one read from a chunk: the fit of its
    first rows and its first row (or None)."""
    X, yv = _pair_of(Xk, yk, d)
    w0 = _stats.pilot(X, yv)
    return None if w0 is None else (w0, _stats.first_row(X, yv))


def _shifted_moments(Xk, yk, d, got):
    """A chunk's moments of [x - x0, (y - y0) - (x - x0).w0] with s_vv
    (gdfast._stats._moments; one shift for every chunk, so their means are
    of the spread and merge) for the pilot task's ``got = (w0, shift)``, or
    None for an empty chunk or no pilot."""
    X, yv = _pair_of(Xk, yk, d)
    if X.shape[0] == 0 or got is None:
        return None
    return _stats._moments(X, yv, False, *got)


def _pair(a, b):
    return a, b


def _add(*parts):
    """The partial sums added (an overflow is the epoch's divergence, which
    the driver reports, as in memory: no numpy warning)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return sum(parts[1:], parts[0].copy()) if parts else None


def _one_read(dd):
    """The in-memory statistics' one read (gdfast._stats._one_pass) over the
    chunks: the pilot from the first non-empty chunk's first rows, then one
    reduction of the moments of [x, y - x.w0]. A Stats (its s_ee None where
    the residuals must still be read), or None (use the two reductions).
    One graph: where the pilot fails (first rows not finite, or overflowing)
    every chunk is still loaded once for nothing -- mostly a path to the
    error naming the NaN."""
    if dd.n < _stats.ONE_PASS_MIN:
        return None
    first = next(k for k in range(dd.chunks) if dd.sizes[k])
    # one graph: the chunks' tasks take the pilot from its task, so no
    # client round trip separates the two (the pilot comes back with the sum)
    g = dd.graph("moments")
    got = g.task(_pilot, dd.xkeys[first], dd.ykeys[first], dd.d)
    got, mom = g.compute(g.task(_pair, got, g.tree(
        [g.task(_shifted_moments, xk, yk, dd.d, got) for xk, yk in zip(dd.xkeys, dd.ykeys)],
        _stats.merge_moments6)))
    return None if got is None or mom is None else _stats.from_moments(mom, *got)


def _collect(dd):
    """gdfast._stats.Stats of the whole Dask array, or None when a statistic
    is not finite: from enough rows the one read of _one_read where it can
    be trusted, else (or after it) a reduction of the residuals about the
    centre; below, two reductions (the moments, the residuals)."""
    st = _one_read(dd)
    if st is not None and st.s_ee is not None:
        return st
    if st is None:
        g = dd.graph("moments")
        st = _stats.centred(g.compute(g.tree(
            [g.task(_moments, xk, yk, dd.d) for xk, yk in zip(dd.xkeys, dd.ykeys)],
            _stats.merge_moments)))
        if st is None:
            return None
    return _stats.with_residuals(st, _residual_sums(dd, st.xbar, st.ybar, st.wstar))


def _residual_sums(dd, xbar, ybar, wstar):
    """One reduction of the residual sums about the centre."""
    g = dd.graph("residuals")
    return g.compute(g.tree([g.task(_residuals, xk, yk, xbar, ybar, wstar)
                             for xk, yk in zip(dd.xkeys, dd.ykeys)], _add))


def _pass_sums(Xk, yk, w, b, threads):
    X, yv = _pair_of(Xk, yk, w.shape[0])
    out = np.zeros(w.shape[0] + 2)
    if X.shape[0]:
        _rows.pass_sums(X, yv, w, b, out, threads, False)
    return out


#: d x d partials a statistics reduction holds beside a chunk's own (a tree
#: node's SPLIT_EVERY inputs, and the nodes in flight; adversarial testing
#: measured 12-27 matrices at d = 2000 on the threaded scheduler)
_TREE_HELD = 2 * SPLIT_EVERY


def _method_batch(method, epochs, n, d):
    """auto: "stats" from 3 epochs (it reads the data once or twice, "pass"
    once per epoch) where its matrices fit in memory; an explicit method as
    in memory (_plan.batch_method: "stats" beyond memory is a MemoryError)."""
    if method == "auto":
        return "stats" if epochs > 2 and _plan.stats_memory(n, d, method, _TREE_HELD) \
            else "pass"
    return _plan.batch_method(method, n, d, epochs, False, _TREE_HELD)


def batch_gd(X, y, w=1.0, lr=0.01, epochs=100, *, b=0.0, fit_intercept=False, alpha=0.0,
             callback=None, progress=False, method="auto", threads=None,
             persist="auto"):
    """Batch gradient descent on Dask arrays (one update per epoch with the
    mean gradient over all rows), as :func:`gdfast.batch_gd`.

    Parameters
    ----------
    X : dask.array.Array, shape (n,) or (n, d)
        Rows in chunks of any sizes (empty chunks allowed); column chunks are
        merged. Float32/float64 chunks are used as they are; other real
        dtypes are converted to float64 chunk by chunk.
    y : dask.array.Array or array_like, shape (n,)
        Rechunked to X's row chunks when its chunks differ (an in-memory
        ``y`` is wrapped with X's chunks).
    w, lr, epochs, b, fit_intercept, alpha, callback, progress
        As :func:`gdfast.batch_gd`; the callback runs on the client.
    method : {"auto", "stats", "pass"}
        "stats": reductions of per-chunk statistics (one read of the data
        where gdfast's one-pass statistics can be trusted, else two), then
        every epoch on the client from d x d numbers. "pass": one reduction of the fused
        cost+gradient sums per epoch. "auto": "stats" when ``epochs > 2``
        and its matrices fit in memory, then "pass" where the in-memory
        trainer's certificate fails (overflow, an ill-conditioned
        correlation matrix: gdfast._plan), after the statistics' read.
    threads : int, optional
        OpenMP threads each "pass" task uses (default 1).
    persist : {"auto", True, False}
        Method "pass" only: persist X and y first (in the workers' memory,
        or this process's on the local schedulers) so epochs do not recompute
        or re-read the chunks. "auto" (default): persist when the active
        scheduler is a ``distributed.Client``; on the local schedulers every
        epoch reads the chunks from their source, so data larger than memory
        (a memory-mapped file) trains in a few chunks' memory.

    Returns
    -------
    TrainResult
        ``method`` is "stats" or "pass"; ``loss_history[e]`` is the cost at
        the start of epoch ``e``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments (the in-memory messages); a NaN or inf in the data is
        a ValueError naming its global index.
    DivergenceError
        A coefficient or the loss became non-finite.

    Examples
    --------
    >>> import dask.array as da, numpy as np, gdfast.dask
    >>> X = da.from_array(np.array([[1.0, 0], [0, 1], [1, 1], [2, 1]]), chunks=(3, 1))
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> r = gdfast.dask.batch_gd(X, y, w=0.0, lr=0.1, epochs=2000, fit_intercept=True)
    >>> r.method, np.round(r.coef, 6).tolist(), round(r.intercept, 6)
    ('stats', [1.0, 2.0], 3.0)
    """
    dd = _data(X, y)
    p = _params(dd, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    nthreads = _validate.threads(threads)
    auto = method == "auto"
    method = _method_batch(method, p.epochs, dd.n, dd.d)
    persist = _persist_choice(persist)
    lr, alpha, fit_b = p.lr, p.alpha, p.fit_intercept
    if method == "stats" and p.epochs:
        st = _collect(dd)
        if st is None:
            _raise_if_nonfinite(dd)
            method = "pass"   # finite data whose squares overflow: passes report it
        elif auto and not _plan.stats_certified(st, p.w, p.b, lr, alpha, fit_b, p.epochs):
            method = "pass"   # as in memory: no certificate (overflow, rounding)
        else:
            return _driver.whole_runs(
                "batch_gd", method, p,
                _stats.whole_run(st, lr, alpha, fit_b, p.flat, _compiled._signals()),
                _kernels.DIVERGED, _kernels.STOPPED, dd, lambda: _raise_if_nonfinite(dd))
    if p.epochs > 1:
        dd = _persisted(dd, persist)
    n = dd.n

    def epoch(e, w, b):
        g = dd.graph("pass")
        tot = g.compute(g.tree([g.task(_pass_sums, xk, yk, w, b, nthreads)
                                for xk, yk in zip(dd.xkeys, dd.ykeys)], _add))
        c = float(tot[0]) / n + _compiled._penalty(alpha, w)
        w = w - lr * (2.0 * tot[2:] / n + (2.0 * alpha) * w)
        if fit_b:
            b = b - lr * (2.0 * float(tot[1]) / n)
        return w, b, c
    return _run("batch_gd", method, p, dd, epoch)


# --------------------------------------------------------------- shuffling

def _draw(rng, chunks):
    """One epoch's visiting plan: (chunk order, per-chunk permutation keys)."""
    visit = rng.permutation(chunks)
    keys = rng.integers(0, np.iinfo(np.int64).max, size=chunks, dtype=np.int64)
    return visit, keys


def _perm(key, m):
    """A chunk's row order from its key (int64, a permutation of 0..m-1)."""
    return np.random.default_rng(int(key)).permutation(m).astype(np.int64, copy=False)


def _plans(shuffle, seed, chunks):
    """plan(e) -> (chunk visiting order, keys or None) for each epoch
    (``shuffle``: the trainers' checked flag)."""
    if not shuffle:
        order = np.arange(chunks)
        return lambda e: (order, None)
    rng = _validate.seed(seed)
    return lambda e: _draw(rng, chunks)


def row_order(chunks, seed=None, epochs=1):
    """The global row orders ``shuffle=True`` visits, epoch by epoch.

    Each epoch visits the chunks in a random order and each chunk's rows in
    a random order (rows never leave their chunk), all drawn from
    ``numpy.random.default_rng(seed)``: for one ``seed`` and chunking the
    trainers visit exactly these rows, so ``gdfast.sgd`` on ``X[order]``
    (unshuffled) reproduces an epoch. Meant for inspection and tests; it
    holds n integers per epoch.

    Parameters
    ----------
    chunks : tuple of int or dask.array.Array
        The row chunk sizes (``X.chunks[0]``), or the array itself.
    seed : None, int or numpy.random.Generator
        As the trainers' ``seed``.
    epochs : int

    Returns
    -------
    list of numpy.ndarray
        ``epochs`` int64 arrays, each a permutation of ``0..n-1``.

    Examples
    --------
    >>> import gdfast.dask
    >>> order = gdfast.dask.row_order((2, 3), seed=0)[0]
    >>> sorted(order.tolist())
    [0, 1, 2, 3, 4]
    """
    if _is_dask(chunks):
        chunks = chunks.chunks[0]
    sizes = [_validate.count(c, "chunks", 0) for c in chunks]
    offsets = np.cumsum([0] + sizes[:-1])
    rng = _validate.seed(seed)
    out = []
    for _ in range(_validate.count(epochs, "epochs", 0)):
        visit, keys = _draw(rng, len(sizes))
        out.append(np.concatenate([offsets[k] + _perm(keys[k], sizes[k]) for k in visit]
                                  or [np.zeros(0, np.int64)]).astype(np.int64))
    return out


# --------------------------------------------------------------------- sgd

def _sgd_task(Xk, yk, state, key, lr, alpha, fit_b, mode):
    """SGD over one chunk from the incoming (w, b, loss, rss): a pure function
    (the incoming w is copied, never written). mode: _rows.PLAIN, LANES or
    GRAM (the last groups rows in fours from the chunk's start)."""
    w, b, _, rss = state
    X, yv = _pair_of(Xk, yk, w.shape[0])
    if X.shape[0] == 0:
        return state
    w = w.copy()
    order = None if key is None else _perm(key, X.shape[0])
    b, loss, sq = _rows.sgd_epoch(X, yv, w, b, lr, alpha, fit_b, order, False, mode)
    return w, b, loss, rss + sq


def _affine_task(Xk, yk, key, lr, maxima=False):
    """(A, B, x_last, y_last) of one chunk's SGD pass, or None when empty;
    with ``maxima`` also (max|x|, max|y|) of the chunk (``_rows.max_abs_pair``,
    read right after the map: "auto"'s overflow certificate)."""
    X, yv = _pair_of(Xk, yk, 1)
    x = np.ascontiguousarray(X[:, 0])
    if x.shape[0] == 0:
        return None
    if x.dtype != yv.dtype:               # the kernel takes one dtype: widen (exact)
        x, yv = x.astype(np.float64, copy=False), yv.astype(np.float64, copy=False)
    order = None if key is None else _perm(key, x.shape[0])
    A, B = _chunks.sgd_affine_map(x, yv, lr, order)
    last = x.shape[0] - 1 if order is None else order[-1]
    out = (A, B, float(x[last]), float(yv[last]))
    return out + _rows.max_abs_pair(x, yv) if maxima else out


def _affine_group(lr, maxima, *parts):
    """The maps of several chunks (``parts``: position in the visiting order,
    X's chunk, y's chunk, permutation key; four values per chunk) in one
    task, as [(position, map)]: chunks that live on one worker, mapped
    there one after the other."""
    return [(parts[i], _affine_task(parts[i + 1], parts[i + 2], parts[i + 3], lr, maxima))
            for i in range(0, len(parts), 4)]


def _compose_groups(*groups):
    """The groups' maps put back in visiting order, composed (_compose)."""
    return _compose(*[m for _, m in sorted((q for grp in groups for q in grp),
                                           key=lambda q: q[0])])


def _compose(*maps):
    """Compose chunk maps in visiting order -> (A, B, x_last, y_last, max|x|,
    max|y|) (the maxima 0.0 where the maps carry none)."""
    A, B, xl, yl, mx, my = 1.0, 0.0, None, None, 0.0, 0.0
    for m in maps:
        if m is None:
            continue
        a, c, xl, yl = m[:4]
        A, B = a * A, a * B + c
        if len(m) > 4:
            mx, my = max(mx, m[4]), max(my, m[5])
    return A, B, xl, yl, mx, my


class _Uncertified(Exception):
    """"auto"'s affine epoch found no overflow certificate: run "plain"."""


def sgd(X, y, w=1.0, lr=0.01, epochs=100, shuffle=False, seed=None, *, b=0.0,
        fit_intercept=False, alpha=0.0, callback=None, progress=False, method="auto",
        persist="auto"):
    """Stochastic gradient descent on Dask arrays (one update per row), as
    :func:`gdfast.sgd`, with the rows visited chunk after chunk.

    Parameters
    ----------
    X, y : dask.array.Array
        As :func:`batch_gd` (one of them may be in memory).
    w, lr, epochs, b, fit_intercept, alpha, callback, progress
        As :func:`gdfast.sgd`. For a warm start (an estimator's
        ``partial_fit``) pass the current ``w=coef, b=intercept`` and
        ``epochs=1``.
    shuffle : bool
        Each epoch visits the chunks in a random order and the rows of each
        chunk in a random order (rows stay in their chunk; not the in-memory
        global permutation). :func:`row_order` gives the order.
    seed : None, int or numpy.random.Generator
        Draws the orders, reproducibly.
    method : {"auto", "plain", "affine"}
        "plain": a chain of tasks per epoch, chunk k's task starting from
        chunk k-1's weights and running the in-memory per-row update
        (bit-identical to ``gdfast.sgd(..., method="plain")`` on the
        concatenated rows in the same order). "affine" (one feature, no
        intercept, no penalty): each chunk's pass as a map ``w -> A*w + B``
        computed in parallel, composed in order on the client (exact in
        real arithmetic; rounding bounded in docs/dask.md); unshuffled, every
        epoch is the same map, so one pass over the data serves all epochs.
        "auto": as
        in memory ("affine" from 65,536 rows where it applies and its
        overflow certificate holds: the first epoch's maps bring max|x| and
        max|y| and count only if it does, else the call runs "plain" on the
        same orders).
    persist : {"auto", True, False}
        Persist X and y first when more than one epoch runs. "auto"
        (default): on a ``distributed.Client`` only (see :func:`batch_gd`).

    Returns
    -------
    TrainResult
        ``loss_history[e]`` is the loss of the last row visited in epoch
        ``e``, after its update.

    Raises
    ------
    TypeError, ValueError
        As :func:`batch_gd`.
    DivergenceError
        A coefficient or the loss became non-finite.

    Examples
    --------
    >>> import dask.array as da, numpy as np, gdfast, gdfast.dask
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> r = gdfast.dask.sgd(da.from_array(x, chunks=20), 2 * x, lr=0.1, epochs=5,
    ...                     method="plain")
    >>> r.w == gdfast.sgd(x, 2 * x, lr=0.1, epochs=5, method="plain").w
    True
    """
    dd = _data(X, y)
    p = _params(dd, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    one_feature = dd.d == 1 and not p.fit_intercept and p.alpha == 0.0 and p.b == 0.0
    shuffle = _shuffle.mode(shuffle, blocks=False) is not None
    auto = method == "auto"
    # "auto" takes "affine" with the in-memory certificate: its maxima come
    # with the first epoch's maps (that epoch counts only if it holds)
    method = _plan.sgd_method(method, dd.n, dd.d, one_feature,
                              lambda: _plan.sgd_certifiable(dd.n, p.lr, p.epochs),
                              shuffled=shuffle)
    certify = auto and method == "affine"
    drawn = _plans(shuffle, seed, dd.chunks)
    first = []

    def plan(e):             # epoch 0's orders kept for a rerun as "plain"
        if e:
            return drawn(e)
        if not first:
            first.append(drawn(0))
        return first[0]
    persist = _persist_choice(persist)
    if p.epochs > 1:
        dd = _persisted(dd, persist)
    lr, alpha, fit_b = p.lr, p.alpha, p.fit_intercept
    where = _placement(dd)

    if method == "affine":
        # threads per worker (a scheduler round trip): the maps' tasks per worker
        slots = _client().nthreads() if where is not None else None
        fixed = {}    # unshuffled, every epoch is the same map: computed once

        def epoch(e, w, b):
            visit, keys = plan(e)
            if "map" in fixed:
                A, B, xl, yl = fixed["map"]
            else:
                maxima = certify and e == 0
                g = dd.graph("sgd-maps")
                pos = {k: i for i, k in enumerate(visit)}
                groups = [g.task(_affine_group, lr, maxima, *[v for k in grp for v in (
                    pos[k], dd.xkeys[k], dd.ykeys[k], None if keys is None else keys[k])])
                    for grp in _by_worker(visit, where, slots)]
                A, B, xl, yl, mx, my = g.compute(g.task(_compose_groups, *groups))
                if maxima and not _plan.sgd_certified_maxima(
                        dd.n, mx, my, float(p.w[0]), lr, p.epochs):
                    raise _Uncertified
                if keys is None:
                    fixed["map"] = A, B, xl, yl
            w1 = A * float(w[0]) + B
            r = xl * w1 - yl
            return np.array([w1]), b, r * r
        try:
            return _run("sgd", method, p, dd, epoch)
        except _Uncertified:
            method = "plain"          # before any callback saw the epoch

    mode = _compiled.SGD_MODES.get(method)
    step = functools.partial(_sgd_task, lr=lr, alpha=alpha, fit_b=fit_b, mode=mode)

    def epoch(e, w, b):
        visit, keys = plan(e)
        return _chained(dd, "sgd", step, (w, b, math.nan, 0.0), _runs(visit, where),
                        lambda k: (dd.xkeys[k], dd.ykeys[k],
                                   None if keys is None else keys[k]))
    return _run("sgd", method, p, dd, epoch)


# ------------------------------------------------------------ minibatch_gd

def _mb_epoch(X, y, w, b, lr, alpha, fit_b, size, threads):
    """(b, the last batch's cost, the batches' pre-update squared residuals)
    of mini-batch steps over X's rows."""
    return _rows.minibatch_epoch(X, y, w, b, lr, alpha, fit_b, size, None, threads, False)


def _mb_task(Xk, yk, state, key, last, lr, alpha, fit_b, size, threads):
    """Mini-batches over one chunk: the unfinished batch from the previous
    chunk (its rows travel in ``state``) is completed with this chunk's
    first rows, so batches are those of the concatenated rows."""
    w, b, loss, rss, cx, cy = state
    X, yv = _pair_of(Xk, yk, w.shape[0])
    if key is not None and X.shape[0]:
        order = _perm(key, X.shape[0])
        X, yv = X[order], yv[order]
    w = w.copy()
    if cx.shape[0]:
        need = size - cx.shape[0]
        head = min(need, X.shape[0])
        cx = np.concatenate([cx, X[:head]])
        cy = np.concatenate([cy, yv[:head]])
        X, yv = X[head:], yv[head:]
        if cx.shape[0] == size:
            b, loss, sq = _mb_epoch(cx, cy, w, b, lr, alpha, fit_b, size, threads)
            rss += sq
            cx, cy = cx[:0], cy[:0]
    if X.shape[0]:
        q = (X.shape[0] // size) * size
        if q:
            b, loss, sq = _mb_epoch(X[:q], yv[:q], w, b, lr, alpha, fit_b, size, threads)
            rss += sq
        cx, cy = X[q:].copy(), yv[q:].copy()
    if last and cx.shape[0]:
        b, loss, sq = _mb_epoch(np.ascontiguousarray(cx), np.ascontiguousarray(cy), w, b,
                                lr, alpha, fit_b, size, threads)
        rss += sq
        cx, cy = cx[:0], cy[:0]
    return w, b, loss, rss, cx, cy


def minibatch_gd(X, y, batch_size=32, w=1.0, lr=0.01, epochs=100, shuffle=False,
                 seed=None, *, b=0.0, fit_intercept=False, alpha=0.0, callback=None,
                 progress=False, method="auto", threads=None, persist="auto"):
    """Mini-batch gradient descent on Dask arrays, as
    :func:`gdfast.minibatch_gd`: batches of ``batch_size`` consecutive rows
    of the concatenated data, whatever the chunk boundaries.

    A batch that spans a chunk boundary is completed in the next chunk's
    task: its first rows travel with the weights (fewer than ``batch_size``
    rows), so the batches, and for 2-D ``X`` the bits, are those of the
    in-memory trainer on ``X.compute()``.

    Parameters
    ----------
    X, y : dask.array.Array
        As :func:`batch_gd`.
    batch_size, w, lr, epochs, b, fit_intercept, alpha, callback, progress
        As :func:`gdfast.minibatch_gd`.
    shuffle, seed
        As :func:`sgd` (chunk order and within-chunk order; batches are then
        consecutive rows of that order).
    method : {"auto", "batches"}
        "batches" only (the in-memory "affine" form is not chained over
        chunks); accepted so that the same call works on both.
    threads : int, optional
        OpenMP threads per task for the batch sums (default 1).
    persist : {"auto", True, False}
        As :func:`batch_gd`.

    Returns
    -------
    TrainResult
        ``method`` is "batches"; ``loss_history[e]`` is the cost of the
        epoch's last batch before its update.

    Raises
    ------
    TypeError, ValueError
        As :func:`batch_gd`.
    DivergenceError
        A coefficient or the loss became non-finite.

    Examples
    --------
    >>> import dask.array as da, numpy as np, gdfast, gdfast.dask
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> y = X @ [1.0, 2.0, 3.0]
    >>> r = gdfast.dask.minibatch_gd(da.from_array(X, chunks=(30, 3)), y, 8, epochs=3)
    >>> bool((r.coef == gdfast.minibatch_gd(X, y, 8, epochs=3).coef).all())
    True
    """
    dd = _data(X, y)
    p = _params(dd, w, b, lr, epochs, alpha, fit_intercept, callback, progress)
    size = _validate.batch_size(batch_size, dd.n)
    shuffle = _shuffle.mode(shuffle, blocks=False) is not None   # in the in-memory order
    _validate.choice(method, "method", ("auto", "batches"))
    nthreads = _validate.threads(threads)
    plan = _plans(shuffle, seed, dd.chunks)
    persist = _persist_choice(persist)
    if p.epochs > 1:
        dd = _persisted(dd, persist)
    lr, alpha, fit_b = p.lr, p.alpha, p.fit_intercept
    xdt = np.dtype(dd.X.dtype)
    ydt = np.dtype(dd.y.dtype)
    where = _placement(dd)
    step = functools.partial(_mb_task, lr=lr, alpha=alpha, fit_b=fit_b, size=size,
                             threads=nthreads)

    def epoch(e, w, b):
        visit, keys = plan(e)
        w, b, loss, rss, _, _ = _chained(
            dd, "minibatch", step,
            (w, b, math.nan, 0.0, np.zeros((0, dd.d), xdt), np.zeros(0, ydt)),
            _runs(visit, where),
            lambda k: (dd.xkeys[k], dd.ykeys[k], None if keys is None else keys[k],
                       bool(k == visit[-1])))
        return w, b, loss, rss
    return _run("minibatch_gd", "batches", p, dd, epoch)

