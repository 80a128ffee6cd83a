"""A scikit-learn estimator over gdfast's trainers: :class:`GDRegressor`.

The only gdfast module that imports scikit-learn (the optional extra
``gdfast[sklearn]``); ``import gdfast`` does not load it: ``gdfast.GDRegressor``
is resolved lazily, on first access.

Every epoch runs in gdfast's compiled trainers (``gdfast.sgd``,
``gdfast.batch_gd``, ``gdfast.minibatch_gd``) on the validated arrays as
they are: float32 ``X`` stays float32 (no float64 copy), C-contiguous
arrays are not copied at all -- except one feature with fit_intercept=False
and alpha=0 (the tutorial's model) when X and y have different float
dtypes, which its one-dtype kernels take as float64 copies. See
docs/sklearn.md.
"""

import contextlib
import inspect
import math
import numbers
import sys
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
    from sklearn.utils import assert_all_finite
    from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted
except ImportError as exc:
    raise ImportError(f"gdfast.GDRegressor needs scikit-learn, which could not be imported "
                      f"({exc}): pip install 'gdfast[sklearn]'") from exc

import gdfast as _gd

from . import _shuffle, _validate
from ._result import History, TrainResult
from .errors import DivergenceError

try:                                   # scikit-learn >= 1.6
    from sklearn.utils.validation import _check_feature_names
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:                    # pragma: no cover - scikit-learn 1.3 to 1.5
    def _validate_data(est, *args, **kwargs):
        return est._validate_data(*args, **kwargs)

    def _check_feature_names(est, X, *, reset):
        return est._check_feature_names(X, reset=reset)

try:                                   # scikit-learn >= 1.2: what its estimators raise
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:                    # pragma: no cover - a future move of the class
    class InvalidParameterError(ValueError, TypeError):
        """A parameter of the wrong type or value (a ValueError and a TypeError)."""

# fit skips scikit-learn's finiteness pass over X (and over a float y, see
# GDRegressor._data): NaN and inf propagate into the weights, the intercept or
# the loss, the core then finds and names them (gdfast._validate), and
# _finite_inputs words the error as scikit-learn does. The keyword was renamed
# in scikit-learn 1.6.
_NO_FINITE_CHECK = ({"ensure_all_finite": False}
                    if "ensure_all_finite" in inspect.signature(check_array).parameters
                    else {"force_all_finite": False})

__all__ = ["GDRegressor", "auto_lr"]

_SOLVERS = ("sgd", "batch", "minibatch")
_TRAINER = {"sgd": "sgd", "batch": "batch_gd", "minibatch": "minibatch_gd"}
#: what the pure-Python reference computes (it takes no ``method``)
_REFERENCE_METHODS = ("pass", "plain", "batches")
_METHODS = {"sgd": ("auto", "plain", "affine", "lanes", "gram"), "batch": ("auto", "pass", "stats"),
            "minibatch": ("auto", "batches", "affine")}

#: ``lr="auto"`` is ``SAFETY / L`` (see :func:`auto_lr`).
SAFETY = 0.5

_BLOCK_VALUES = 1 << 16                # values of X per block (512 KiB in float64)
_TINIEST = float(np.nextafter(0.0, 1.0))


def _sq_norms(X):
    """(max, sum) of the rows' squared norms, in float64, a block at a time
    (a float32 X is widened block by block, never copied whole)."""
    n, d = X.shape
    step = max(1, _BLOCK_VALUES // max(d, 1))
    biggest, total = 0.0, 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n, step):
            blk = np.asarray(X[start:start + step], dtype=np.float64)
            s = np.einsum("ij,ij->i", blk, blk)
            if not s.any() and blk.any():
                # nonzero rows whose squares all underflowed: the smallest
                # positive float bounds them (auto_lr: X too close to zero)
                s = np.full(1, _TINIEST)
            biggest = max(biggest, float(s.max()))
            total += float(s.sum())
    return biggest, total


def auto_lr(solver, max_sq_norm, mean_sq_norm, fit_intercept, alpha):
    """The step size of ``lr="auto"``.

    With ``L`` the curvature bound of the updates, ``lr = SAFETY / L`` with
    ``SAFETY = 0.5``:

    * ``"sgd"``, ``"minibatch"``: ``L = max_i |x_i|**2 + fit_intercept + alpha``.
      A step on sample ``i`` multiplies its residual by
      ``1 - 2*lr*(|x_i|**2 + fit_intercept)``, so ``lr <= 1/(2L)`` never
      overshoots any sample (a mini-batch's curvature is at most its largest
      row's); the factor 0.5 leaves room below that and damps the noise of a
      constant step.
    * ``"batch"``: ``L = mean_i |x_i|**2 + fit_intercept + alpha``, the trace
      of the cost's Hessian over 2, which bounds its largest eigenvalue
      ``lambda``; ``lr = 1/(2L)`` gives ``2*lr*lambda <= 1``: every epoch
      contracts the error (no oscillation, whatever the data).

    Parameters
    ----------
    solver : {"sgd", "batch", "minibatch"}
    max_sq_norm, mean_sq_norm : float
        The largest and the mean squared row norm of ``X``.
    fit_intercept : bool
    alpha : float

    Returns
    -------
    float
        The learning rate.

    Raises
    ------
    ValueError
        When the norms overflow float64 or are too small to give a finite
        step: rescale ``X`` or pass a number as ``lr``.

    Examples
    --------
    >>> auto_lr("batch", 4.0, 2.0, True, 0.0)   # 0.5 / (2 + 1)
    0.16666666666666666
    >>> auto_lr("sgd", 4.0, 2.0, False, 0.0)    # 0.5 / 4
    0.125
    """
    base = mean_sq_norm if solver == "batch" else max_sq_norm
    L = base + (1.0 if fit_intercept else 0.0) + alpha
    if not math.isfinite(L):
        raise ValueError("lr='auto': the squared row norms of X overflow float64; "
                         "rescale X (e.g. StandardScaler) or give lr as a number")
    if L == 0.0 and max_sq_norm == 0.0:  # X == 0, no intercept, no penalty: nothing moves
        return 1.0
    lr = SAFETY / L if L else math.inf   # L == 0: the mean squared norm underflowed
    if not math.isfinite(lr):
        raise ValueError("lr='auto': X is too close to zero to derive a finite step "
                         "size; rescale X or give lr as a number")
    return lr


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} "
                        f"{value!r:.40}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_real(value, name, minimum, strict=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} "
                        f"{value!r:.40}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} "
                         f"{minimum}, got {value}")
    return value


def _check_random_state(random_state):
    """random_state's type and value, without drawing from it."""
    if random_state is None or isinstance(random_state, (np.random.Generator,
                                                         np.random.RandomState)):
        return
    if isinstance(random_state, numbers.Integral) and \
            not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got "
                             f"{random_state}")
        return
    raise ValueError(f"random_state must be None, an integer, a numpy Generator or "
                     f"a numpy RandomState, got {type(random_state).__name__} "
                     f"{random_state!r:.40}")


def _generator(random_state):
    """random_state -> the numpy Generator the core's ``seed`` takes.

    None: fresh entropy; an int: ``default_rng(int)`` (the same orders as
    ``gdfast.sgd(..., shuffle=True, seed=int)``); a Generator: used as it is
    (its state advances); a RandomState: a seed drawn from it (its state
    advances, as scikit-learn's estimators do).
    """
    _check_random_state(random_state)
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(np.iinfo(np.int32).max)))
    return np.random.default_rng(int(random_state))


def _finite_cost(X, y, w, b, alpha):
    """``mean((X @ w + b - y)**2) + alpha*|w|**2``, or None when it overflows.

    ``gdfast.cost``: the compiled fused pass (double accumulation, no float64
    copy of float32 X; faster than numpy's BLAS ``X @ w`` on thin X, whose
    matrix-vector kernel is slow for a few columns). Under GDFAST_PURE_PYTHON=1, float64 X
    takes one BLAS matrix-vector product instead of the reference's loops.
    """
    if X.dtype == np.float64 and _gd.IMPLEMENTATION != "compiled":
        with np.errstate(over="ignore", invalid="ignore"):
            r = X @ w
            r += b
            r -= y
            c = float(r @ r) / X.shape[0] + (alpha * float(w @ w) if alpha else 0.0)
        return c if math.isfinite(c) else None
    try:
        return float(_gd.cost(X, y, w, b, alpha=alpha))
    except OverflowError:
        return None


def _finite_cost_dask(X, y, w, b, alpha):
    """_finite_cost on Dask arrays (one reduction): None when it overflows."""
    with np.errstate(all="ignore"):
        r = X @ np.asarray(w, dtype=np.float64) + b - y
        v = float((r * r).mean().compute()) + (alpha * float(np.dot(w, w)) if alpha else 0.0)
    return v if math.isfinite(v) else None


def _epoch_loss(res, X, y, alpha):
    """loss_curve_'s entry for the last epoch of ``res`` (see loss_curve_),
    or None when it is not finite."""
    means = res.epoch_loss_history
    if means is None:
        return _finite_cost(X, y, np.asarray(res.coef, dtype=np.float64), res.intercept,
                            alpha)
    loss = float(means[-1])
    return loss if math.isfinite(loss) else None


@contextlib.contextmanager
def _finite_inputs(X, y=None):
    """fit validates X (and a float y) without scikit-learn's finiteness pass
    (a read saved): NaN and inf in them propagate into the weights, the
    intercept or the loss, and the core then scans its inputs and raises
    ValueError naming them. Any ValueError is re-worded as scikit-learn's
    ("Input X contains NaN.", "Input y contains NaN.") when X or y is not
    finite."""
    try:
        yield
    except ValueError:
        assert_all_finite(X, input_name="X")
        if y is not None:
            assert_all_finite(y, input_name="y")
        raise


_SCHEMA = ("n_features_in_", "feature_names_in_")


@contextlib.contextmanager
def _schema_kept_on_error(est):
    """validate_data records n_features_in_ (and feature_names_in_) as it
    checks X; a fit that fails after that (a length mismatch, a non-finite y
    or X found by the core, a divergence) leaves them as they were, so a
    fitted model stays consistent with its coef_ and an unfitted one stays
    unfitted."""
    saved = {a: getattr(est, a) for a in _SCHEMA if hasattr(est, a)}
    try:
        yield
    except BaseException:
        for a in _SCHEMA:
            if a in saved:
                setattr(est, a, saved[a])
            elif hasattr(est, a):
                delattr(est, a)
        raise


#: A divergence under lr="auto": its steps are stable on any data (auto_lr),
#: so what broke is float64's range, not the step size.
AUTO_LR_ADVICE = ("lr='auto' takes stable steps, so a value outgrew float64: rescale X "
                  "and y (e.g. StandardScaler; TransformedTargetRegressor for y)")


@contextlib.contextmanager
def _advice_for(est):
    """A DivergenceError of a fit with ``lr="auto"`` advises rescaling the
    data, not the smaller learning rate the core suggests (auto_lr's steps
    cannot diverge in exact arithmetic: only magnitudes can overflow)."""
    try:
        yield
    except DivergenceError as exc:
        if not (isinstance(est.lr, str) and est.lr == "auto"):
            raise
        raise DivergenceError(exc.epoch, exc.lr, exc.result, AUTO_LR_ADVICE) from None


def _predict_chunk(Xk, coef, intercept):
    """One chunk's predictions (GDRegressor._predict_dask)."""
    from .dask import _rows_of          # the trainers' chunk conversion
    Xk = _rows_of(Xk)
    if Xk.shape[0] == 0:
        return np.empty(0)
    with _finite_inputs(Xk):
        return np.asarray(_gd.forward(Xk, coef, intercept), dtype=np.float64)


def _is_dask(a):
    """A Dask array, DataFrame or Series, detected without importing dask."""
    m = sys.modules.get("dask.array")
    return (m is not None and isinstance(a, m.Array)) or _validate.is_dask_frame(a)


#: a rise of the loss smaller than this, relative, is rounding, not divergence
_RISE = 1e-9


def _warn_if_rising(curve, patience, lr, auto):
    """The tol rule stops a diverging run too (its loss never improves): warn
    when the run stopped with the loss risen (by more than rounding: _RISE)
    in each of its last ``patience`` epochs to above the first epoch's -- a
    step size too large, not a minimum (SGDRegressor says nothing there).
    ``auto``: lr was "auto" (which gave ``lr``)."""
    def rose(a, b):
        return b - a > _RISE * abs(a)
    tail = curve[-patience - 1:]
    if (len(curve) > patience and rose(curve[0], curve[-1])
            and all(rose(a, b) for a, b in zip(tail, tail[1:]))):
        step = f"lr='auto' gave {lr!r}" if auto else f"got {lr!r}; or lr='auto'"
        warnings.warn(f"The loss rose in each of the last {patience} epochs, from "
                      f"{tail[0]:.6g} to {tail[-1]:.6g}: the run stopped by the tol rule is "
                      f"diverging, not converged; use a smaller lr ({step}).",
                      ConvergenceWarning, stacklevel=4)


def _batch_stopper(stop, state):
    """The "batch" fits' callback: ``loss`` at epoch e is the cost before e,
    i.e. after epoch e - 1 (loss_curve_[e - 1]); the rule ``stop`` on it
    records ``state["stopped"] = e`` (e epochs to keep) and ends the run."""
    def callback(epoch, w_now, loss):
        if epoch >= 1 and stop(loss):
            state["stopped"] = epoch
            return True
        return False
    return callback


class _Stopper:
    """SGDRegressor's rule: ``n_iter_no_change`` epochs in a row whose loss
    is not below ``best - tol`` -> converged. ``tol=None`` never stops."""

    def __init__(self, tol, patience):
        self.tol, self.patience = tol, patience
        self.best, self.count = math.inf, 0

    def __call__(self, loss):
        if self.tol is None:
            return False
        if loss > self.best - self.tol:
            self.count += 1
        else:
            self.count = 0
        if loss < self.best:
            self.best = loss
        return self.count >= self.patience


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression by gradient descent in gdfast's compiled kernels.

    Fits ``y ≈ X @ coef_ + intercept_`` by minimising the mean squared error
    plus an L2 term, ``mean((X @ w + b - y)**2) + alpha * |w|**2``
    (``b`` is not penalised), with stochastic (``"sgd"``), full-batch
    (``"batch"``) or mini-batch (``"minibatch"``) gradient descent at a
    constant step size.

    Parameters
    ----------
    solver : {"sgd", "batch", "minibatch"}, default="sgd"
        ``"sgd"``: one update per sample (:func:`gdfast.sgd`); ``"batch"``: one
        update per epoch with the mean gradient (:func:`gdfast.batch_gd`);
        ``"minibatch"``: one update per ``batch_size`` rows
        (:func:`gdfast.minibatch_gd`).
    lr : float or "auto", default="auto"
        Constant step size. ``"auto"``: ``0.5 / L`` from the data's scale, with
        ``L = max_i |x_i|**2 + fit_intercept + alpha`` for "sgd" and
        "minibatch" and ``L = mean_i |x_i|**2 + fit_intercept + alpha`` for
        "batch" (see :func:`auto_lr`); the value used is ``lr_``. It costs one
        pass over ``X``. ``SGDRegressor``'s squared loss is half of this one:
        ``lr`` here is its ``eta0 / 2``.
    max_iter : int, default=1000
        Largest number of epochs (passes over the data) of ``fit``.
    batch_size : int, default=32
        Rows per update of ``solver="minibatch"`` (the last batch of an epoch
        may be smaller); ignored by the other solvers.
    fit_intercept : bool, default=True
        Fit ``intercept_``; otherwise it stays 0.
    alpha : float, default=0.0
        L2 strength: the cost's term ``alpha * |coef|**2``. The same number
        as ``SGDRegressor(penalty="l2", alpha=alpha)`` uses.
    shuffle : bool or "blocks", default=True
        Visit the rows of each epoch in a fresh random order ("sgd",
        "minibatch"; "batch" does not depend on order). "blocks": the core's
        locality-keeping order (``gdfast.sgd(shuffle="blocks")``), several
        times faster than the exact shuffle on large data.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState, default=None
        Source of the shuffles. An int ``s`` gives the orders of
        ``gdfast.sgd(..., shuffle=True, seed=s)``.
    tol : float >= 0 or None, default=1e-3
        Stop when ``loss_curve_`` has not gone below its best value minus
        ``tol`` for ``n_iter_no_change`` epochs in a row (``SGDRegressor``'s
        rule, on this estimator's loss, which is twice scikit-learn's squared
        loss). ``None``: run all ``max_iter`` epochs. A run the rule stops
        while its loss rises epoch after epoch (a step size too large to
        converge, whose coefficients are still finite) gets a
        ``ConvergenceWarning`` saying so.
    n_iter_no_change : int, default=5
        See ``tol``.
    warm_start : bool, default=False
        ``fit`` starts from the previous ``coef_`` and ``intercept_``
        (otherwise from zeros).
    method : str, default="auto"
        The trainer's method (what ran is ``method_``): for "sgd" "auto",
        "plain", "lanes", "gram" or "affine"; for "batch" "auto", "pass" or "stats"; for
        "minibatch" "auto", "batches" or "affine" (as in the core trainers;
        "affine" needs one feature, ``fit_intercept=False`` and ``alpha=0``).

    Attributes
    ----------
    coef_ : numpy.ndarray of shape (n_features,), float64
        The weights; float64 whatever the dtype of ``X`` (the kernels
        accumulate in double precision).
    intercept_ : float
        The bias: 0.0 when ``fit_intercept=False``, except after a warm start
        or ``partial_fit`` from a model fitted with an intercept, which keeps
        that intercept, fixed (as ``SGDRegressor`` does).
    n_iter_ : int
        Epochs run by the last ``fit``; each ``partial_fit`` adds one.
    loss_curve_ : list of float
        Per epoch: "sgd", "minibatch": the epoch's running loss, the mean over
        its samples of the squared residual ``(x·coef + b - y)**2`` each had
        just before its update, plus ``alpha*|coef|**2`` at the epoch's end
        (``TrainResult.epoch_loss_history``: the epoch computes it as it
        goes, like the loss ``SGDRegressor``'s ``tol`` watches; only for one
        feature with ``fit_intercept=False`` and ``alpha=0``, where the
        tutorial's kernels run, is it the cost after the epoch, one extra
        pass). "batch": the cost ``mean((X @ coef + b - y)**2) +
        alpha*|coef|**2`` after each epoch (free, from the next epoch's
        pass). After ``partial_fit``, the same for that chunk. The same on
        Dask arrays.
    lr_ : float
        The step size used (``lr``, or what ``"auto"`` derived).
    t_ : int
        Number of samples seen (epochs times rows), summed over
        ``partial_fit`` calls since the last ``fit``.
    method_ : str
        The method the trainer ran: "plain"/"affine"/"lanes"/"gram" (sgd),
        "pass"/"stats" (batch), "batches"/"affine" (minibatch).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        Only when ``X`` had string column names (a DataFrame).

    Raises
    ------
    gdfast.DivergenceError
        From ``fit``/``partial_fit`` when the coefficients or the loss stop
        being finite; it names the epoch and suggests a smaller ``lr``. The
        estimator keeps its previous state (never NaN coefficients).

    See Also
    --------
    sklearn.linear_model.SGDRegressor : the same model with decaying steps.

    Examples
    --------
    >>> import numpy as np
    >>> from gdfast import GDRegressor
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ [2.0, -1.0] + 3.0
    >>> reg = GDRegressor(solver="batch", tol=None, max_iter=2000).fit(X, y)
    >>> np.round(reg.coef_, 6), round(reg.intercept_, 6)
    (array([ 2., -1.]), 3.0)
    >>> float(np.round(reg.predict([[3.0, 0.0]])[0], 6))
    9.0
    """

    def __init__(self, *, solver="sgd", lr="auto", max_iter=1000, batch_size=32,
                 fit_intercept=True, alpha=0.0, shuffle=True, random_state=None,
                 tol=1e-3, n_iter_no_change=5, warm_start=False, method="auto"):
        self.solver = solver
        self.lr = lr
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.method = method

    # ------------------------------------------------------------ checking

    def _params(self):
        """The parameters, checked (in fit, not in __init__: scikit-learn's
        rule); a wrong one is scikit-learn's InvalidParameterError (both a
        ValueError and a TypeError, as its own estimators raise)."""
        try:
            return self._checked_params()
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(str(exc)) from None

    def _checked_params(self):
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, "
                             f"got {self.solver!r:.40}")
        if not isinstance(self.method, str) or self.method not in _METHODS[self.solver]:
            raise ValueError(f"method must be one of "
                             f"{', '.join(map(repr, _METHODS[self.solver]))} for "
                             f"solver={self.solver!r}, got {self.method!r:.40}")
        if not (isinstance(self.lr, str) and self.lr == "auto"):
            if isinstance(self.lr, str):
                raise ValueError(f"lr must be a positive number or 'auto', got {self.lr!r:.40}")
            _check_real(self.lr, "lr", 0.0, strict=True)
        if _check_int(self.max_iter, "max_iter", 1) > _validate.MAX_COUNT:
            raise ValueError(f"max_iter must be <= {_validate.MAX_COUNT}, got {self.max_iter}")
        _check_int(self.batch_size, "batch_size", 1)
        _check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        _validate.flag(self.fit_intercept, "fit_intercept")
        _shuffle.mode(self.shuffle)         # the core trainers' check and messages
        _validate.flag(self.warm_start, "warm_start")
        alpha = _validate.penalty(_check_real(self.alpha, "alpha", 0.0))
        tol = None if self.tol is None else _check_real(self.tol, "tol", 0.0)
        _check_random_state(self.random_state)
        if self.method == "affine" and (self.fit_intercept or alpha != 0.0):
            # the data-independent half of the trainers' own rule (one feature
            # is the other half, checked with the data)
            raise ValueError("method='affine' needs one feature without intercept or "
                             "penalty (fit_intercept=False, alpha=0), got "
                             f"fit_intercept={self.fit_intercept!r}, alpha={alpha!r}")
        return alpha, tol

    def _data(self, X, y, reset):
        if (isinstance(y, np.ndarray) and y.ndim == 1
                and y.dtype in (np.float64, np.float32)):
            # y is already what the core takes: X validated alone, y's length
            # checked as check_X_y does, and its finiteness left to the core
            # (a NaN or inf propagates, the core then names it; _finite_inputs
            # words it as scikit-learn does): one read of y fewer
            # (bench/bench_sklearn.py). A y both non-finite and of the wrong length
            # is refused for its length (scikit-learn: for its values).
            X = _validate_data(self, X, reset=reset, dtype=[np.float64, np.float32],
                               order="C", **_NO_FINITE_CHECK)
            check_consistent_length(X, y)
            return X, np.ascontiguousarray(y)
        X, y = _validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32],
                              order="C", y_numeric=True, **_NO_FINITE_CHECK)
        if y.dtype != np.float64 and y.dtype != np.float32:
            y = np.ascontiguousarray(y, dtype=np.float64)   # once, not every epoch
        else:
            y = np.ascontiguousarray(y)
        return X, y

    # --------------------------------------------------------------- state

    def _start(self, d, warm):
        """(w, b) a fit starts from: the fitted ones when warm, else zeros. A
        warm start on data with another number of features is refused, as
        SGDRegressor refuses it (it restarted from zeros without a word)."""
        if warm and getattr(self, "coef_", None) is not None:
            if self.coef_.shape != (d,):
                raise ValueError(f"X has {d} features, but GDRegressor is expecting "
                                 f"{self.coef_.shape[0]} features as input: warm_start=True "
                                 "continues from coef_ (set warm_start=False to refit)")
            return np.array(self.coef_, dtype=np.float64), float(self.intercept_)
        return np.zeros(d), 0.0

    def _norms(self, reset, chunk_norms):
        """lr for this call and the running (max, sum, count) of the squared
        row norms seen (stored by the caller once the epoch succeeded).
        ``chunk_norms()`` gives this call's (max, sum, count); it is only
        called for ``lr="auto"``. A numeric lr records nothing (None): an
        "auto" call after it starts the running statistics afresh, rather
        than dividing by rows whose norms were never read."""
        if not isinstance(self.lr, str):
            return float(self.lr), None
        prev = None if reset else getattr(self, "_norm_stats", None)
        mx, tot, seen = (0.0, 0.0, 0) if prev is None else prev
        bmx, btot, m = chunk_norms()
        mx, tot, seen = max(mx, bmx), tot + btot, seen + m
        return auto_lr(self.solver, mx, tot / seen, bool(self.fit_intercept),
                       float(self.alpha)), (mx, tot, seen)

    def _check_reference_method(self):
        """In memory under GDFAST_PURE_PYTHON=1: refuse a method that
        gdfast.reference cannot run (it has no ``method``: it computes what
        "pass", "plain" and "batches" do, nothing else) -- called by fit and
        partial_fit before the data are validated."""
        if (_gd.IMPLEMENTATION != "compiled" and self.method != "auto"
                and self.method not in _REFERENCE_METHODS):
            raise InvalidParameterError(
                f"method={self.method!r} needs gdfast's compiled implementation "
                "(GDFAST_PURE_PYTHON is set); use method='auto'")

    def _epoch(self, X, y, w, b, lr, alpha, rng, epochs=1, callback=None, trainers=_gd):
        """``epochs`` epochs of the solver's trainer from (w, b): the
        TrainResult. ``trainers``: gdfast, or gdfast.dask for Dask arrays."""
        common = dict(w=w, b=b, lr=lr, epochs=epochs, alpha=alpha,
                      fit_intercept=bool(self.fit_intercept), callback=callback)
        if self.method != "auto" and (trainers is not _gd or _gd.IMPLEMENTATION == "compiled"):
            common["method"] = self.method   # the reference takes none: fit and partial_fit
                                             # refused the methods it cannot run
        if self.solver == "batch":
            return trainers.batch_gd(X, y, **common)
        shuffle = self.shuffle if isinstance(self.shuffle, str) else bool(self.shuffle)
        seed = rng if shuffle else None
        if self.solver == "sgd":
            return trainers.sgd(X, y, shuffle=shuffle, seed=seed, **common)
        return trainers.minibatch_gd(X, y, batch_size=self.batch_size, shuffle=shuffle,
                                     seed=seed, **common)

    def _batch_end(self, res, state, stop, p0, lr, finite_cost):
        """(coef, intercept, loss_curve_, n_iter_, converged) of a "batch" fit
        from the trainer's result: loss_curve_ is the cost after each epoch
        (``loss_history[1:]``, then the final cost, one pass). A run the tol
        rule stopped at epoch e's callback (judging the cost after epoch
        e - 1, which is the cost before e) ends after epoch e - 1: epoch e
        is rolled back, so the run stops where the rule fires, as for "sgd".
        The final cost overflowing is the last epoch's divergence."""
        hist = res.loss_history
        e = state.get("stopped")
        if e is not None:
            return (np.array(res.coef_history[e - 1], dtype=np.float64),
                    float(res.intercept_history[e - 1]),
                    [float(v) for v in hist[1:e + 1]], e, True)
        w, b = np.array(res.coef, dtype=np.float64), float(res.intercept)
        last = finite_cost(w, b)
        if last is None:        # by loss_curve_'s definition the last epoch diverged
            raise self._divergence_at(res.epochs - 1, lr, res, res.loss_history, p0)
        curve = [float(v) for v in hist[1:]] + [last]
        return w, b, curve, res.epochs, stop(last)

    def _divergence_at(self, epoch, lr, res, losses, p0):
        """The DivergenceError of a fit at ``epoch``: its result holds the
        epochs before it from the trainer's histories ``res``, with
        ``losses`` as their loss (the recorded ones, or loss_curve_'s
        entries), and ends in the last of them (``p0 = (w, b)`` when none)."""
        rows = np.column_stack([
            np.asarray(res.coef_history)[:epoch].reshape(epoch, len(p0[0])),
            res.intercept_history[:epoch], losses[:epoch]])
        w, b = (rows[-1, :-2], float(rows[-1, -2])) if epoch else p0
        return DivergenceError(epoch, lr, self._result(rows, np.array(w), b))

    def _batch_divergence(self, exc, lr, w, b, finite_cost):
        """Raise the DivergenceError of a "batch" fit from the core's ``exc``
        when they differ: the core names the epoch whose update (or
        pre-update cost) broke; by loss_curve_'s definition (the cost after
        each epoch) the epoch before it diverged when that cost overflowed
        (``finite_cost(coef, intercept)`` None at the last finite state)."""
        r = exc.result
        if r.epochs and finite_cost(r.coef, r.intercept) is None:
            raise self._divergence_at(r.epochs - 1, lr, r, r.loss_history, (w, b)) from exc

    def _result(self, rows, w, b):
        arr = np.array(rows, dtype=np.float64).reshape(-1, len(w) + 2)
        return TrainResult(arr, w, b, False, _TRAINER[self.solver], getattr(
            self, "_last_method", "n/a"))

    # ----------------------------------------------------------------- API

    def fit(self, X, y):
        """Fit the model by up to ``max_iter`` epochs of the solver.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 and float64 arrays are used in their own dtype.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : GDRegressor

        Raises
        ------
        gdfast.DivergenceError
            When the coefficients or the loss stop being finite.
        """
        alpha, tol = self._params()
        with _schema_kept_on_error(self), _advice_for(self):
            if _is_dask(X) or _is_dask(y):
                return self._fit_dask(X, y, alpha, tol, partial=False)
            self._check_reference_method()
            X, y = self._data(X, y, reset=True)
            with _finite_inputs(X, y):
                return self._fit(X, y, alpha, tol)

    def _fit(self, X, y, alpha, tol):
        n, d = X.shape
        w, b = self._start(d, bool(self.warm_start))    # before any read of X
        lr, norm_stats = self._norms(True, lambda: (*_sq_norms(X), n))
        p0 = (w.copy(), b)
        stop = _Stopper(tol, int(self.n_iter_no_change))
        max_iter = int(self.max_iter)
        rng = _generator(self.random_state)
        converged = False
        if self.solver == "batch":
            # one call: "auto" may run the statistics method over all epochs
            state = {}
            try:
                res = self._epoch(X, y, w, b, lr, alpha, rng, max_iter,
                                  _batch_stopper(stop, state))
            except DivergenceError as exc:
                self._batch_divergence(exc, lr, w, b,
                                       lambda c, i: _finite_cost(X, y, c, i, alpha))
                raise
            self._last_method = res.method
            w, b, curve, n_iter, converged = self._batch_end(
                res, state, stop, p0, lr, lambda c, i: _finite_cost(X, y, c, i, alpha))
        else:
            curve, rows = [], History(d, max_iter)   # for a DivergenceError's result
            n_iter = 0
            for epoch in range(max_iter):
                try:
                    res = self._epoch(X, y, w, b, lr, alpha, rng)
                except DivergenceError as exc:
                    raise DivergenceError(epoch, lr, self._result(rows.rows(), w, b)) \
                        from exc
                self._last_method = res.method
                w_new, b_new = np.array(res.coef, dtype=np.float64), float(res.intercept)
                loss = _epoch_loss(res, X, y, alpha)
                if loss is None:        # finite coefficients, overflowing loss
                    raise DivergenceError(epoch, lr, self._result(rows.rows(), w, b))
                w, b = w_new, b_new
                curve.append(loss)
                rows.append(w, b, loss)
                n_iter += 1
                if stop(loss):
                    converged = True
                    break
        if tol is not None and not converged:
            warnings.warn("Maximum number of iteration reached before convergence. "
                          "Consider increasing max_iter to improve the fit.",
                          ConvergenceWarning, stacklevel=3)
        elif converged:
            _warn_if_rising(curve, int(self.n_iter_no_change), lr, isinstance(self.lr, str))
        self.coef_, self.intercept_ = w, b
        self.n_iter_, self.loss_curve_, self.lr_ = n_iter, curve, lr
        self.t_ = n_iter * n
        self.method_ = self._last_method
        self._rng, self._norm_stats = rng, norm_stats
        return self

    def partial_fit(self, X, y):
        """One epoch over the chunk ``(X, y)``, from the current state.

        "sgd", "minibatch": one epoch of updates over the chunk's rows
        (shuffled within the chunk when ``shuffle=True``); "batch": one update
        with the chunk's mean gradient. Chunks given in order without
        shuffling make the updates of one ``fit`` epoch over their
        concatenation ("sgd" when the same method runs on both -- small
        chunks run "plain" where a large array may run "gram" --;
        "minibatch" when chunk sizes are multiples of ``batch_size``). With
        ``lr="auto"`` the step size follows all rows seen so far (since the
        last ``fit``, or the last call with a numeric ``lr``, which reads no
        norms).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : GDRegressor
        """
        alpha, _ = self._params()
        with _schema_kept_on_error(self), _advice_for(self):
            if _is_dask(X) or _is_dask(y):
                return self._fit_dask(X, y, alpha, None, partial=True)
            self._check_reference_method()
            first = not hasattr(self, "coef_")
            X, y = self._data(X, y, reset=first)
            with _finite_inputs(X, y):
                return self._partial_fit(X, y, alpha, first)

    def _partial_fit(self, X, y, alpha, first):
        n, d = X.shape
        lr, norm_stats = self._norms(first, lambda: (*_sq_norms(X), n))
        if first:
            w, b, epoch = np.zeros(d), 0.0, 0
            rng = _generator(self.random_state)
        else:
            w, b, epoch = np.array(self.coef_, dtype=np.float64), float(self.intercept_), \
                self.n_iter_
            rng = self._rng
        try:
            res = self._epoch(X, y, w, b, lr, alpha, rng)
        except DivergenceError as exc:
            raise DivergenceError(epoch, lr, self._result([], w, b)) from exc
        w2, b2 = np.array(res.coef, dtype=np.float64), float(res.intercept)
        self._last_method = res.method
        loss = _epoch_loss(res, X, y, alpha)
        if loss is None:
            raise DivergenceError(epoch, lr, self._result([], w, b))
        self.coef_, self.intercept_ = w2, b2
        self.loss_curve_ = ([] if first else list(self.loss_curve_)) + [loss]
        self.n_iter_ = epoch + 1
        self.t_ = (0 if first else self.t_) + n
        self.lr_ = lr
        self.method_ = res.method
        self._rng, self._norm_stats = rng, norm_stats
        return self

    def _fit_dask(self, X, y, alpha, tol, partial):
        """fit / partial_fit on Dask arrays: the same solver through
        gdfast.dask (chunk by chunk, on the active scheduler); the same
        parameters and fitted attributes, ``loss_curve_`` and the tol rule
        as in memory: "sgd", "minibatch" the epoch's mean pre-update loss
        (the trainer hands it to the callback; for one feature without
        intercept or penalty the cost after the epoch, one reduction),
        "batch" the cost after each epoch."""
        import dask

        from . import dask as gdd
        first = not partial or not hasattr(self, "coef_")
        # a Dask DataFrame: its columns are the feature names, as a pandas
        # DataFrame's; its values the array (gdfast.dask's conversion)
        frame = _validate.is_dask_frame(X)
        if frame:                       # its _meta: an empty pandas frame, same columns
            _check_feature_names(self, X._meta, reset=first)
            X = gdd._frame_to_array(X)
        y = gdd._frame_to_array(y)
        # one of the pair may be in memory (a DataFrame, a list): X checked
        # as in memory (its feature names kept), y taken as an array
        names = not _is_dask(X)
        if names:
            X = _validate_data(self, X, reset=first, dtype=[np.float64, np.float32],
                               order="C", **_NO_FINITE_CHECK)
        elif X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim} dimensions")
        if not _is_dask(y):
            y = np.asarray(y)
        # bool data become float64, as scikit-learn's checks make them in memory
        X = X.astype(np.float64) if X.dtype.kind == "b" else X
        y = y.astype(np.float64) if y.dtype.kind == "b" else y
        if y.ndim == 2 and y.shape[1] == 1:     # as check_X_y does in memory
            warnings.warn("A column-vector y was passed when a 1d array was expected. "
                          "Please change the shape of y to (n_samples,), for example "
                          "using ravel().", DataConversionWarning, stacklevel=3)
            y = y[:, 0]
        if self.solver != "batch":
            _shuffle.mode(self.shuffle, blocks=False)       # before any read
        dd = gdd._data(X, y)            # chunking, lengths, dtypes: gdfast.dask's checks
        n, d = dd.n, dd.d
        if not first and d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but GDRegressor is expecting "
                             f"{self.n_features_in_} features as input")
        if not first and not names and not frame:
            _check_feature_names(self, X, reset=False)     # as in memory: warns
        w, b = self._start(d, bool(self.warm_start) or not first)   # before any read
        def chunk_norms():
            # each chunk's rows as in memory (_sq_norms), so the largest
            # norm, which lr="auto" takes for "sgd" and "minibatch", is its bits
            parts = dask.compute(*[dask.delayed(_sq_norms)(c)
                                   for c in dd.X.to_delayed().ravel()])
            mx = max(p[0] for p in parts)
            tot = sum(p[1] for p in parts)
            if not (math.isfinite(mx) and math.isfinite(tot)):
                gdd._raise_if_nonfinite(dd)   # a NaN or inf, by its global index
            return float(mx), float(tot), n
        lr, norm_stats = self._norms(first, chunk_norms)
        rng = getattr(self, "_rng", None) if not first else None
        rng = rng if rng is not None else _generator(self.random_state)
        stop = _Stopper(None if partial else tol, int(self.n_iter_no_change))
        state = {}

        def cost(c, i):
            return _finite_cost_dask(dd.X, dd.y, c, i, alpha)
        if self.solver == "batch":
            callback = _batch_stopper(stop, state)
        else:
            curve = []
            # one feature, no intercept, no penalty: no epoch mean (see
            # TrainResult), so the cost after the epoch
            after = _validate.tutorial_model(d, bool(self.fit_intercept), alpha, b)

            def callback(epoch, w_now, loss):
                if after:
                    loss = cost(w_now, b)
                if loss is None or not math.isfinite(loss):
                    state["diverged"] = epoch       # as in memory: this epoch
                    return True
                curve.append(float(loss))
                if stop(loss):
                    state["stopped"] = epoch + 1
                    return True
                return False
            callback._epoch_loss = True
        w0, b0 = w, b
        try:
            try:
                res = self._epoch(X, y, w, b, lr, alpha, rng,
                                  1 if partial else int(self.max_iter), callback, trainers=gdd)
            except DivergenceError as exc:
                if self.solver == "batch":
                    self._batch_divergence(exc, lr, w, b, cost)
                    raise
                raise self._divergence_at(exc.epoch, lr, exc.result, curve, (w, b)) from exc
            if "diverged" in state:     # a finite epoch whose loss_curve_ entry is not
                raise self._divergence_at(state["diverged"], lr, res, curve, (w, b))
            if self.solver == "batch":  # (its final cost overflowing: a divergence)
                w, b, curve, epochs, converged = self._batch_end(res, state, stop, (w, b),
                                                                 lr, cost)
            else:
                w, b = np.array(res.coef, dtype=np.float64).reshape(d), float(res.intercept)
                epochs, converged = res.epochs, "stopped" in state
        except DivergenceError as exc:
            if partial:         # numbered by the estimator's epochs, as in memory
                raise DivergenceError(0 if first else self.n_iter_, lr,
                                      self._result([], w0, b0)) from exc
            raise
        if tol is not None and not converged and not partial:
            warnings.warn("Maximum number of iteration reached before convergence. "
                          "Consider increasing max_iter to improve the fit.",
                          ConvergenceWarning, stacklevel=3)
        elif converged:
            _warn_if_rising(curve, int(self.n_iter_no_change), lr, isinstance(self.lr, str))
        self.coef_, self.intercept_ = w, b
        if partial and not first:
            self.n_iter_ += epochs
            self.loss_curve_ = list(self.loss_curve_) + curve
            self.t_ += n * epochs
        else:
            self.n_iter_, self.loss_curve_, self.t_ = epochs, curve, n * epochs
        self.n_features_in_, self.lr_, self.method_ = d, lr, res.method
        if first and not (names or frame) and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_      # a Dask array has no column names
        self._rng, self._norm_stats = rng, norm_stats
        return self

    def _predict_dask(self, X, names_checked=False):
        """predict() of a Dask array: checked now (2-D, real dtype, the
        fitted number of features), computed lazily chunk by chunk, each
        chunk's finiteness checked as it is predicted (scikit-learn's
        message: "Input X contains NaN.")."""
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D array, got {X.ndim} dimensions")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be real numbers, got dtype {X.dtype}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but GDRegressor is expecting "
                             f"{self.n_features_in_} features as input")
        if not names_checked:
            _check_feature_names(self, X, reset=False)     # a fit on a DataFrame: warns
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        return X.map_blocks(_predict_chunk, self.coef_, self.intercept_, drop_axis=1,
                            dtype=np.float64, meta=np.empty(0))

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_`` (float64, computed without
        a copy of a float32 ``X``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,), float64

        Raises
        ------
        OverflowError
            A prediction beyond float64's range (gdfast's rule for its
            primitives: never a silent inf; scikit-learn's estimators return
            ``inf``). A Dask array's is raised when it is computed.
        """
        check_is_fitted(self)
        if _validate.is_dask_frame(X):   # lazily: row lengths unknown are fine here
            _check_feature_names(self, X._meta, reset=False)
            return self._predict_dask(X.to_dask_array(), names_checked=True)
        if _is_dask(X):
            return self._predict_dask(X)
        X = _validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                           order="C", **_NO_FINITE_CHECK)
        with _finite_inputs(X):          # gdfast.forward checks finiteness itself
            return np.asarray(_gd.forward(X, self.coef_, self.intercept_),
                              dtype=np.float64)
