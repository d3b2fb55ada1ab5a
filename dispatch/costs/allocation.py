"""Splitting the cost of one shared route among the parties it serves.

One vehicle drives a shared delivery route for several carriers and shippers (the
*participants*).  The route costs ``cost(all)`` fen and that sum has to be divided among
them.  The caller describes the situation as a cooperative cost game: a function
``cost(S)`` giving, in integer fen, what the route would cost if it were driven for the
coalition ``S`` only (in practice: the same route skipping the other participants' stops),
with ``cost(empty) = 0``.  Nothing else is assumed about it: route costs are in general
neither monotone nor subadditive (dropping a stop can make a detour necessary, rounding of
vehicle classes can make a smaller coalition dearer), so every function here works for an
arbitrary set function.

Methods
-------
**Shapley value** (:func:`shapley`, the allocation actually charged).  Participant ``i``
pays its marginal cost ``cost(S + i) - cost(S)`` averaged over all orders in which the
participants could join, i.e. ::

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (cost(S + i) - cost(S))

It is the only rule that is at the same time

* *efficient*: the shares add up to the route's cost exactly (nobody pays for the
  platform's rounding, and nothing is left over);
* *symmetric*: two participants that change every coalition's cost in the same way pay the
  same, whatever their names;
* *null-player fair*: a participant whose stops never change the cost pays nothing;
* *additive*: if a route's cost is the sum of two cost components (say distance cost plus
  driver time), the shares are the sums of the shares of each component, so the split does
  not depend on how the cost is booked.

That axiomatic uniqueness is why it is the rule we charge.  What it does *not* guarantee:
that every participant pays no more than its stand-alone cost ``cost({i})`` (individual
rationality), nor that the allocation is in the *core* (every coalition ``S`` pays at most
``cost(S)``, so no group would rather drive alone).  Both hold for concave (submodular)
games such as the "airport game" ``cost(S) = max of the members' needs``, but vehicle
routing games can have an empty core.  The result therefore reports, per participant,
whether the Shapley share stays at or below its stand-alone cost, and for exact
computations whether the whole allocation is in the core, so the operator can see when the
split needs explaining.

*Exact* computation uses the formula above over all ``2**n`` coalitions (each coalition's
cost is asked for once and memoised).  Per participant and per coalition size the marginal
costs are summed as integers and the share is formed as one exact rational number before
the single conversion to float, so symmetric participants get bit-identical values and the
values add up to ``cost(all)`` up to the last float bit.  This is used for up to
``exact_max`` participants (8 by default: 256 coalitions, i.e. at most 256 route
evaluations).

*Sampled* computation (more participants) uses Monte-Carlo permutation sampling: draw a
random joining order, charge each participant its marginal cost in that order, average over
orders.  Every order's marginal costs telescope to ``cost(all) - cost(empty) = cost(all)``,
so the estimate is efficient however few orders are drawn; it is unbiased for each
participant, and exact when the game is additive.  Orders are drawn in *antithetic pairs*:
an order and its reverse.  A participant early in one is late in the other, so the two
marginal costs are negatively correlated for the usual cost games (big marginal cost when
joining an empty route, small when joining a full one) and their mean varies much less than
that of two independent orders.  Because the two halves of a pair are not independent, the
standard error is computed from the spread of the *pair means* (sample standard deviation
of the pair means divided by the square root of the number of pairs).  The random generator
is seeded, and participants are sorted by id before sampling, so the same inputs and seed
always give the same answer.  Coalition costs are memoised here too.

**Proportional split** (:func:`proportional`, shown for comparison): shares proportional to
the stand-alone costs ``cost({i})``; equal shares when all stand-alone costs are 0.  Simple
and easy to explain, never more than the stand-alone cost whenever sharing saves money at
all (``cost(all) <= sum of stand-alone costs``), but blind to who actually causes the
savings (a participant whose stops lie on the way pays as much as one needing a detour of
the same stand-alone length).

**Rounding to fen** (:func:`to_fen`): the largest-remainder (Hamilton) method.  Every value
is rounded down, then the missing fen go one each to the largest fractional parts (ties to
the smaller party id).  The integer shares add up exactly to the total, each is within one
fen of its unrounded value, and negative values (possible with a non-monotone cost game)
are handled by the same floor-and-remainder rule.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

CostFn = Callable[[frozenset[str]], int]

# exact computation enumerates 2**n coalitions: refuse sizes that cannot finish
EXACT_LIMIT = 20
# largest coalition cost accepted (fen, about 44 billion yuan): integer sums stay in int64
MAX_ABS_COST_FEN = 2**42
# permutations sampled at most: integer sums of marginal costs stay in int64
MAX_SAMPLES = 1_000_000
# fractional parts are compared at this precision when rounding, so that float noise
# does not decide between shares that are mathematically tied
_FRACTION_DIGITS = 9

__all__ = [
    "EXACT_LIMIT",
    "MAX_ABS_COST_FEN",
    "MAX_SAMPLES",
    "CostFn",
    "RouteAllocation",
    "ShapleyEstimate",
    "Share",
    "allocate",
    "proportional",
    "shapley",
    "to_fen",
]


@dataclass(frozen=True)
class ShapleyEstimate:
    """Shapley values of a cost game, exact or estimated by permutation sampling."""

    values: dict[str, float]  # per participant (fen), sums to cost(all) up to float rounding
    exact: bool
    samples: int  # permutations sampled (0 when exact)
    std_error: dict[str, float]  # standard error of each value in fen (0.0 when exact)
    coalitions_evaluated: int  # distinct cost() calls made (the empty coalition included)


@dataclass(frozen=True)
class Share:
    """What one participant pays for a shared route, under each method."""

    party: str
    standalone_fen: int  # cost({party}): what this route would cost it alone
    proportional_fen: int
    shapley_fen: int  # charged
    shapley_exact: float  # unrounded Shapley value (the estimate when sampled)
    no_more_than_alone: bool  # shapley_fen <= standalone_fen
    proportional_no_more_than_alone: bool  # proportional_fen <= standalone_fen


@dataclass(frozen=True)
class RouteAllocation:
    """The split of one route's cost among its participants."""

    total_fen: int
    shares: tuple[Share, ...]  # sorted by party id
    method_note: str
    exact: bool
    samples: int
    max_std_error_fen: float
    # exact Shapley only: is the (unrounded) allocation in the core, i.e. does every
    # coalition S pay at most cost(S)?  None when sampled (not all costs are known).
    in_core: bool | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: plain dicts, lists, numbers, strings, booleans and None."""
        return {
            "total_fen": self.total_fen,
            "shares": [asdict(s) for s in self.shares],
            "method_note": self.method_note,
            "exact": self.exact,
            "samples": self.samples,
            "max_std_error_fen": self.max_std_error_fen,
            "in_core": self.in_core,
        }


# --------------------------------------------------------------------------- internals


def _check_players(players: Sequence[str]) -> tuple[str, ...]:
    """The participants sorted by id; duplicates and non-string ids are errors."""
    if isinstance(players, str):
        raise TypeError("players must be a sequence of ids, not one string")
    ids = tuple(players)
    for p in ids:
        if not isinstance(p, str):
            raise TypeError(f"player ids must be strings, got {p!r}")
    if len(set(ids)) != len(ids):
        dup = sorted({p for p in ids if ids.count(p) > 1})
        raise ValueError(f"duplicate player ids: {', '.join(dup)}")
    return tuple(sorted(ids))


def _as_fen(value: object, coalition: frozenset[str]) -> int:
    """A cost() result as int fen; integral floats are tolerated, anything else is not."""
    try:
        fen = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        if isinstance(value, float) and value.is_integer():
            fen = int(value)
        else:
            raise TypeError(
                f"cost({sorted(coalition)}) returned {value!r}, expected integer fen"
            ) from None
    if abs(fen) > MAX_ABS_COST_FEN:
        raise ValueError(f"cost({sorted(coalition)}) = {fen} fen is out of range")
    return fen


class _Game:
    """The cost function over coalitions of sorted players, as bitmasks, memoised."""

    def __init__(self, players: tuple[str, ...], cost: CostFn) -> None:
        self.players = players
        self.n = len(players)
        self.full = (1 << self.n) - 1
        self._cost = cost
        self._cache: dict[int, int] = {}

    @property
    def evaluated(self) -> int:
        return len(self._cache)

    def coalition(self, mask: int) -> frozenset[str]:
        return frozenset(p for j, p in enumerate(self.players) if mask >> j & 1)

    def __call__(self, mask: int) -> int:
        hit = self._cache.get(mask)
        if hit is not None:
            return hit
        members = self.coalition(mask)
        fen = _as_fen(self._cost(members), members)
        if mask == 0 and fen != 0:
            raise ValueError(f"cost of the empty coalition must be 0, got {fen}")
        self._cache[mask] = fen
        return fen

    def table(self) -> np.ndarray:
        """Costs of all 2**n coalitions, indexed by bitmask."""
        return np.array([self(m) for m in range(1 << self.n)], dtype=np.int64)


def _popcounts(n: int) -> np.ndarray:
    pc = np.zeros(1 << n, dtype=np.int64)
    for j in range(n):
        pc[1 << j : 1 << (j + 1)] = pc[: 1 << j] + 1
    return pc


def _exact_values(n: int, costs: np.ndarray) -> list[float]:
    """Shapley values from the full cost table, via exact integer/rational arithmetic."""
    if n == 0:
        return []
    masks = np.arange(1 << n, dtype=np.int64)
    pc = _popcounts(n)
    # phi_i * n! = sum_k k! (n-k-1)! * (sum of marginals of i over coalitions of size k)
    factor = [math.factorial(k) * math.factorial(n - k - 1) for k in range(n)]
    n_fact = math.factorial(n)
    out: list[float] = []
    for i in range(n):
        bit = 1 << i
        without = masks[(masks & bit) == 0]
        marginal = costs[without | bit] - costs[without]
        sizes = pc[without]
        scaled = 0
        for k in range(n):
            scaled += factor[k] * int(marginal[sizes == k].sum())
        out.append(float(Fraction(scaled, n_fact)))
    return out


def _in_core(n: int, costs: np.ndarray, values: Sequence[float]) -> bool:
    """Does every coalition pay at most its cost (float tolerance far below a fen)?"""
    pays = np.zeros(1 << n, dtype=np.float64)
    for j in range(n):
        pays[1 << j : 1 << (j + 1)] = pays[: 1 << j] + values[j]
    tol = 1e-12 * (1.0 + float(np.abs(costs).max(initial=0)))
    return bool(np.all(pays <= costs.astype(np.float64) + tol))


def _sampled(game: _Game, samples: int, seed: int) -> tuple[list[float], list[float], int]:
    """Antithetic permutation sampling: (values, standard errors, permutations drawn)."""
    n = game.n
    pairs = (samples + 1) // 2
    rng = np.random.default_rng(seed)
    marg = np.zeros((pairs, 2, n), dtype=np.int64)
    for k in range(pairs):
        order = rng.permutation(n).tolist()
        for half, seq in enumerate((order, order[::-1])):
            mask = 0
            before = game(0)
            for j in seq:
                mask |= 1 << j
                after = game(mask)
                marg[k, half, j] = after - before
                before = after
    totals = marg.sum(axis=(0, 1))  # exact integers; they add up to 2 * pairs * cost(all)
    drawn = 2 * pairs
    values = [int(t) / drawn for t in totals]
    pair_means = marg.sum(axis=1).astype(np.float64) / 2.0
    se = pair_means.std(axis=0, ddof=1) / math.sqrt(pairs)
    return values, [float(s) for s in se], drawn


def _check_params(exact_max: int, samples: int) -> None:
    if not 0 <= exact_max <= EXACT_LIMIT:
        raise ValueError(f"exact_max must be between 0 and {EXACT_LIMIT}, got {exact_max}")
    if not 4 <= samples <= MAX_SAMPLES:
        raise ValueError(
            f"samples must be between 4 (two antithetic pairs) and {MAX_SAMPLES}, got {samples}"
        )


def _shapley(
    game: _Game, exact_max: int, samples: int, seed: int
) -> tuple[ShapleyEstimate, np.ndarray | None]:
    """The estimate, and the full cost table when computed exactly."""
    n = game.n
    if n <= exact_max:
        costs = game.table()
        vals = _exact_values(n, costs)
        est = ShapleyEstimate(
            values=dict(zip(game.players, vals, strict=True)),
            exact=True,
            samples=0,
            std_error=dict.fromkeys(game.players, 0.0),
            coalitions_evaluated=game.evaluated,
        )
        return est, costs
    vals, se, drawn = _sampled(game, samples, seed)
    est = ShapleyEstimate(
        values=dict(zip(game.players, vals, strict=True)),
        exact=False,
        samples=drawn,
        std_error=dict(zip(game.players, se, strict=True)),
        coalitions_evaluated=game.evaluated,
    )
    return est, None


# --------------------------------------------------------------------------- public API


def shapley(
    players: Sequence[str],
    cost: CostFn,
    *,
    exact_max: int = 8,
    samples: int = 2000,
    seed: int = 0,
) -> ShapleyEstimate:
    """Shapley values of the cost game ``cost`` over ``players`` (fen).

    Exact over all ``2**n`` coalitions when ``len(players) <= exact_max`` (at most 20),
    otherwise estimated from ``samples`` random joining orders drawn as antithetic pairs
    (an odd ``samples`` is rounded up to the next pair; at least 4).  Each coalition's cost
    is asked for at most once.  ``values`` and ``std_error`` are keyed by player id in
    ascending order.  Raises ValueError on duplicate ids or when ``cost(empty) != 0``.
    """
    _check_params(exact_max, samples)
    game = _Game(_check_players(players), cost)
    est, _ = _shapley(game, exact_max, samples, seed)
    return est


def proportional(
    players: Sequence[str], standalone: Mapping[str, int], total: int
) -> dict[str, float]:
    """``total`` split in proportion to the stand-alone costs (equal split if all are 0).

    Stand-alone costs must be non-negative (a proportional split of negative costs means
    nothing).  Keys follow the order of ``players``.
    """
    ids = _check_players(players)
    if not ids:
        if total != 0:
            raise ValueError(f"nobody to charge a total of {total} fen to")
        return {}
    missing = [p for p in ids if p not in standalone]
    if missing:
        raise ValueError(f"no stand-alone cost for: {', '.join(missing)}")
    alone = {p: int(standalone[p]) for p in players}
    negative = [p for p, c in alone.items() if c < 0]
    if negative:
        raise ValueError(f"negative stand-alone cost for: {', '.join(sorted(negative))}")
    weight = sum(alone.values())
    if weight == 0:
        return {p: total / len(ids) for p in players}
    return {p: float(Fraction(total * c, weight)) for p, c in alone.items()}


def to_fen(values: Mapping[str, float], total: int) -> dict[str, int]:
    """Whole fen adding up exactly to ``total``, by largest remainder.

    Every value is rounded down; the fen still missing are handed out one each in order of
    decreasing fractional part (ties: party id ascending).  When the values add up to
    ``total`` each share is within one fen of its value.  If they do not, the difference is
    first spread evenly (whole fen each) so that the sum is still exact.  Keys follow the
    order of ``values``.
    """
    if not values:
        if total != 0:
            raise ValueError(f"nobody to charge a total of {total} fen to")
        return {}
    floors: dict[str, int] = {}
    fracs: dict[str, float] = {}
    for p, v in values.items():
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"value for {p!r} is not finite: {v}")
        f = math.floor(v)
        floors[p] = f
        fracs[p] = round(v - f, _FRACTION_DIGITS)
    n = len(floors)
    missing = total - sum(floors.values())
    each, extra = divmod(missing, n)  # extra in [0, n) even when missing < 0
    ranked = sorted(floors, key=lambda p: (-fracs[p], p))
    bonus = set(ranked[:extra])
    return {p: floors[p] + each + (1 if p in bonus else 0) for p in floors}


def allocate(
    players: Sequence[str],
    cost: CostFn,
    *,
    exact_max: int = 8,
    samples: int = 2000,
    seed: int = 0,
) -> RouteAllocation:
    """Split the route's cost ``cost(all players)`` among ``players``.

    Shapley shares (charged) and proportional shares (for comparison), both rounded to
    whole fen that add up to the total, each compared with the participant's stand-alone
    cost.  Costs are memoised across the whole computation (the grand coalition and the
    singletons are asked for once).  No participants: the cost of the empty coalition must
    be 0 and the allocation is empty.
    """
    _check_params(exact_max, samples)
    game = _Game(_check_players(players), cost)
    n = game.n
    total = game(game.full)  # cost(empty) is checked to be 0 when n == 0
    if n == 0:
        return RouteAllocation(
            total_fen=0,
            shares=(),
            method_note="no participants",
            exact=True,
            samples=0,
            max_std_error_fen=0.0,
            in_core=True,
        )
    est, costs = _shapley(game, exact_max, samples, seed)
    standalone = {p: game(1 << j) for j, p in enumerate(game.players)}
    shapley_fen = to_fen(est.values, total)
    proportional_fen = to_fen(proportional(game.players, standalone, total), total)
    shares = tuple(
        Share(
            party=p,
            standalone_fen=standalone[p],
            proportional_fen=proportional_fen[p],
            shapley_fen=shapley_fen[p],
            shapley_exact=est.values[p],
            no_more_than_alone=shapley_fen[p] <= standalone[p],
            proportional_no_more_than_alone=proportional_fen[p] <= standalone[p],
        )
        for p in game.players
    )
    max_se = max(est.std_error.values())
    if est.exact:
        word = "participant" if n == 1 else "participants"
        note = f"exact Shapley over {n} {word} ({1 << n} coalitions)"
        assert costs is not None
        in_core: bool | None = _in_core(n, costs, [est.values[p] for p in game.players])
    else:
        note = f"sampled Shapley: {est.samples} permutations, max standard error {max_se:.1f} fen"
        in_core = None
    return RouteAllocation(
        total_fen=total,
        shares=shares,
        method_note=note,
        exact=est.exact,
        samples=est.samples,
        max_std_error_fen=max_se,
        in_core=in_core,
    )
