"""Cost allocation of shared routes: Shapley axioms, sampling, rounding to fen."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.costs.allocation import (
    CostFn,
    RouteAllocation,
    allocate,
    proportional,
    shapley,
    to_fen,
)

FAST = settings(max_examples=60, deadline=None)
TOL = 1e-6  # fen


def names(n: int) -> list[str]:
    return [f"P{i:02d}" for i in range(n)]


def table_game(players: Sequence[str], table: dict[frozenset[str], int]) -> CostFn:
    def cost(s: frozenset[str]) -> int:
        return 0 if not s else table[s]

    return cost


def all_subsets(players: Sequence[str]) -> list[frozenset[str]]:
    return [
        frozenset(c) for k in range(1, len(players) + 1) for c in itertools.combinations(players, k)
    ]


def random_game(players: Sequence[str], seed: int, lo: int = 0, hi: int = 100_000) -> CostFn:
    """An arbitrary set function with cost(empty) = 0 (neither monotone nor subadditive)."""
    rng = random.Random(seed)
    return table_game(players, {s: rng.randint(lo, hi) for s in all_subsets(players)})


def synergy_game(fixed: int, own: dict[str, int], pair: dict[tuple[str, str], int]) -> CostFn:
    """Fixed cost + per-player costs + pairwise synergy terms (for non-empty coalitions)."""

    def cost(s: frozenset[str]) -> int:
        if not s:
            return 0
        members = sorted(s)
        return (
            fixed
            + sum(own[p] for p in members)
            + sum(pair[(a, b)] for a, b in itertools.combinations(members, 2))
        )

    return cost


def brute_force(players: Sequence[str], cost: CostFn) -> dict[str, Fraction]:
    """Reference: average marginal cost over every joining order, in exact rationals."""
    acc = dict.fromkeys(players, Fraction(0))
    perms = list(itertools.permutations(players))
    for order in perms:
        before: frozenset[str] = frozenset()
        for p in order:
            after = before | {p}
            acc[p] += cost(after) - cost(before)
            before = after
    return {p: v / len(perms) for p, v in acc.items()}


class Counting:
    """Wraps a cost function, recording every call."""

    def __init__(self, cost: CostFn) -> None:
        self.cost = cost
        self.calls: list[frozenset[str]] = []

    def __call__(self, s: frozenset[str]) -> int:
        self.calls.append(s)
        return self.cost(s)


# --------------------------------------------------------------------------- strategies


@st.composite
def general_games(draw: st.DrawFn, max_n: int = 6) -> tuple[list[str], CostFn]:
    n = draw(st.integers(1, max_n))
    players = names(n)
    subsets = all_subsets(players)
    costs = draw(
        st.lists(st.integers(-50_000, 200_000), min_size=len(subsets), max_size=len(subsets))
    )
    return players, table_game(players, dict(zip(subsets, costs, strict=True)))


@st.composite
def synergy_games(draw: st.DrawFn, max_n: int = 6) -> tuple[list[str], CostFn]:
    n = draw(st.integers(1, max_n))
    players = names(n)
    fixed = draw(st.integers(0, 50_000))
    own = {p: draw(st.integers(0, 20_000)) for p in players}
    pair = {ab: draw(st.integers(-3_000, 3_000)) for ab in itertools.combinations(players, 2)}
    return players, synergy_game(fixed, own, pair)


any_game = st.one_of(general_games(), synergy_games())


# --------------------------------------------------------------------------- exact Shapley


@FAST
@given(any_game)
def test_exact_matches_permutation_average_and_is_efficient(game: tuple[list[str], CostFn]) -> None:
    players, cost = game
    counting = Counting(cost)
    est = shapley(players, counting)
    assert est.exact and est.samples == 0
    assert list(est.values) == sorted(players)
    assert all(se == 0.0 for se in est.std_error.values())
    reference = brute_force(players, cost) if len(players) <= 5 else None
    if reference is not None:
        for p in players:
            assert est.values[p] == pytest.approx(float(reference[p]), abs=TOL)
    total = cost(frozenset(players))
    assert math.fsum(est.values.values()) == pytest.approx(total, abs=TOL)
    # memoised: each coalition asked for once, 2**n in all
    assert len(counting.calls) == len(set(counting.calls)) == 2 ** len(players)
    assert est.coalitions_evaluated == 2 ** len(players)


@FAST
@given(any_game)
def test_allocation_sums_exactly(game: tuple[list[str], CostFn]) -> None:
    players, cost = game
    total = cost(frozenset(players))
    if any(cost(frozenset({p})) < 0 for p in players):
        with pytest.raises(ValueError, match="negative stand-alone"):
            allocate(players, cost)
        return
    alloc = allocate(players, cost)
    assert alloc.total_fen == total
    assert sum(s.shapley_fen for s in alloc.shares) == total
    assert sum(s.proportional_fen for s in alloc.shares) == total
    assert [s.party for s in alloc.shares] == sorted(players)
    for s in alloc.shares:
        assert abs(s.shapley_fen - s.shapley_exact) < 1
        assert s.standalone_fen == cost(frozenset({s.party}))
        assert s.no_more_than_alone == (s.shapley_fen <= s.standalone_fen)
        assert s.proportional_no_more_than_alone == (s.proportional_fen <= s.standalone_fen)
    assert alloc.exact and alloc.in_core is not None


@FAST
@given(st.integers(2, 6), st.integers(0, 2**32), st.data())
def test_symmetric_players_pay_the_same(n: int, seed: int, data: st.DataObject) -> None:
    players = names(n)
    # a "type" per player; two players share one, and cost depends on type counts only
    twin = data.draw(st.sampled_from(players[1:]))
    kind = {p: i for i, p in enumerate(players)}
    kind[twin] = kind[players[0]]
    rng = random.Random(seed)
    table: dict[tuple[int, ...], int] = {}

    def cost(s: frozenset[str]) -> int:
        if not s:
            return 0
        key = tuple(sorted(kind[p] for p in s))
        if key not in table:
            table[key] = rng.randint(0, 100_000)
        return table[key]

    est = shapley(players, cost)
    assert est.values[players[0]] == est.values[twin]  # exact rationals: bit-identical


@FAST
@given(general_games(max_n=5), st.booleans())
def test_null_player_pays_nothing(game: tuple[list[str], CostFn], sampled: bool) -> None:
    players, base = game
    null = "ZZ-null"

    def cost(s: frozenset[str]) -> int:
        return base(s - {null})

    everyone = [*players, null]
    est = shapley(everyone, cost, exact_max=0 if sampled else 8, samples=50)
    assert est.values[null] == 0.0
    assert est.std_error[null] == 0.0
    if all(base(frozenset({p})) >= 0 for p in players):
        alloc = allocate(everyone, cost, exact_max=0 if sampled else 8, samples=50)
        share = next(s for s in alloc.shares if s.party == null)
        assert share.shapley_fen == 0 and share.standalone_fen == 0


@FAST
@given(st.integers(1, 5), st.integers(0, 2**32), st.integers(0, 2**32))
def test_additivity(n: int, seed1: int, seed2: int) -> None:
    players = names(n)
    c1 = random_game(players, seed1)
    c2 = random_game(players, seed2, lo=-10_000, hi=10_000)

    def both(s: frozenset[str]) -> int:
        return c1(s) + c2(s)

    v1, v2, v = (shapley(players, c).values for c in (c1, c2, both))
    for p in players:
        assert v[p] == pytest.approx(v1[p] + v2[p], abs=TOL)


def test_airport_game_by_hand() -> None:
    need = {"a": 10, "b": 20, "c": 30}

    def cost(s: frozenset[str]) -> int:
        return max((need[p] for p in s), default=0)

    est = shapley(["c", "a", "b"], cost)
    assert est.values == pytest.approx({"a": 10 / 3, "b": 10 / 3 + 5, "c": 10 / 3 + 5 + 10})
    alloc = allocate(["c", "a", "b"], cost)
    assert alloc.total_fen == 30
    # 3.33 + 8.33 + 18.33: the missing fen goes to the tied fraction of the smallest id
    assert [(s.party, s.shapley_fen) for s in alloc.shares] == [("a", 4), ("b", 8), ("c", 18)]
    assert [s.proportional_fen for s in alloc.shares] == [5, 10, 15]
    assert all(s.no_more_than_alone for s in alloc.shares)
    assert alloc.in_core is True  # a concave game: Shapley is in the core
    assert alloc.method_note == "exact Shapley over 3 participants (8 coalitions)"


def test_two_players_split_the_saving_equally() -> None:
    table = {frozenset("a"): 600, frozenset("b"): 400, frozenset("ab"): 800}
    est = shapley(["a", "b"], table_game("ab", table))
    # each pays its stand-alone cost minus half the 200 fen saved
    assert est.values == {"a": 500.0, "b": 300.0}


def test_empty_core_is_reported() -> None:
    # any two can share for the cost of one, but all three need three: no stable split
    def cost(s: frozenset[str]) -> int:
        return {0: 0, 1: 100, 2: 100, 3: 300}[len(s)]

    alloc = allocate(["x", "y", "z"], cost)
    assert [s.shapley_fen for s in alloc.shares] == [100, 100, 100]
    assert alloc.in_core is False
    # but the same function with cost(all) = 150 has a core, and Shapley is in it
    cheap = {0: 0, 1: 100, 2: 100, 3: 150}
    assert allocate(["x", "y", "z"], lambda s: cheap[len(s)]).in_core is True


def test_non_monotone_game_negative_share() -> None:
    # adding b to a's route makes it cheaper (say, b's stop avoids a detour): b's share
    # can be zero or negative
    table = {frozenset("a"): 1000, frozenset("b"): 300, frozenset("ab"): 700}
    est = shapley(["a", "b"], table_game("ab", table))
    assert est.values == {"a": 700.0, "b": 0.0}
    table2 = {frozenset("a"): 1000, frozenset("b"): 100, frozenset("ab"): 500}
    alloc = allocate(["a", "b"], table_game("ab", table2))
    assert {s.party: s.shapley_fen for s in alloc.shares} == {"a": 700, "b": -200}
    assert {s.party: s.no_more_than_alone for s in alloc.shares} == {"a": True, "b": True}


# --------------------------------------------------------------------------- sampling


def test_sampled_is_exact_on_additive_game() -> None:
    players = names(10)
    own = {p: 1_000 * (i + 1) + 7 * i for i, p in enumerate(players)}

    def cost(s: frozenset[str]) -> int:
        return sum(own[p] for p in s)

    est = shapley(players, cost)  # 10 > exact_max = 8
    assert not est.exact and est.samples == 2000
    assert est.values == {p: float(own[p]) for p in players}
    assert all(se == 0.0 for se in est.std_error.values())
    alloc = allocate(players, cost)
    assert alloc.method_note == "sampled Shapley: 2000 permutations, max standard error 0.0 fen"
    assert alloc.in_core is None and alloc.samples == 2000


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", ["general", "synergy"])
def test_sampled_within_four_standard_errors(seed: int, kind: str) -> None:
    players = names(10)
    if kind == "general":
        cost = random_game(players, seed)
    else:
        rng = random.Random(seed)
        cost = synergy_game(
            rng.randint(0, 50_000),
            {p: rng.randint(0, 20_000) for p in players},
            {ab: rng.randint(-2_000, 2_000) for ab in itertools.combinations(players, 2)},
        )
    exact = shapley(players, cost, exact_max=10)
    assert exact.exact
    counting = Counting(cost)
    est = shapley(players, counting, samples=2000, seed=seed)
    assert not est.exact and est.samples == 2000
    assert math.fsum(est.values.values()) == pytest.approx(cost(frozenset(players)), abs=TOL)
    for p in players:
        assert est.std_error[p] > 0
        assert abs(est.values[p] - exact.values[p]) <= 4 * est.std_error[p]
    assert len(counting.calls) == len(set(counting.calls)) == est.coalitions_evaluated
    assert est.coalitions_evaluated <= 2**10


def test_antithetic_pairs_reduce_variance_on_concave_game() -> None:
    # airport-like: big marginal cost early, small late; reverses are negatively correlated
    players = names(12)
    need = {p: 100 * (i + 1) for i, p in enumerate(players)}

    def cost(s: frozenset[str]) -> int:
        return max((need[p] for p in s), default=0) + 10 * len(s)

    est = shapley(players, cost, samples=400, seed=5)
    # the same number of permutations, treated as independent draws
    naive: dict[str, list[float]] = {p: [] for p in players}
    rng = random.Random(5)
    for _ in range(400):
        order = players[:]
        rng.shuffle(order)
        before: frozenset[str] = frozenset()
        for p in order:
            naive[p].append(cost(before | {p}) - cost(before))
            before = before | {p}
    naive_se = {
        p: (sum((x - sum(xs) / len(xs)) ** 2 for x in xs) / (len(xs) - 1) / len(xs)) ** 0.5
        for p, xs in naive.items()
    }
    assert sum(est.std_error.values()) < sum(naive_se.values())


def test_odd_samples_round_up_to_pairs() -> None:
    cost = random_game(names(9), 4)
    assert shapley(names(9), cost, samples=5).samples == 6


def test_determinism() -> None:
    players = names(11)
    cost = random_game(players, 11)
    a = allocate(players, cost, seed=3)
    assert a == allocate(list(reversed(players)), cost, seed=3)  # order of input irrelevant
    assert shapley(players, cost, seed=3) == shapley(players, cost, seed=3)
    assert shapley(players, cost, seed=3).values != shapley(players, cost, seed=4).values


# --------------------------------------------------------------------------- rounding


@FAST
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=12),
    st.integers(-1_000_000, 1_000_000),
)
def test_to_fen_sums_exactly_and_stays_within_a_fen(values: list[float], total: int) -> None:
    # shift the values so that they add up to the total, as Shapley values do
    shift = (total - math.fsum(values)) / len(values)
    vals = {f"p{i}": v + shift for i, v in enumerate(values)}
    out = to_fen(vals, total)
    assert list(out) == list(vals)
    assert sum(out.values()) == total
    for p, v in vals.items():
        assert abs(out[p] - v) < 1 + 1e-6


@FAST
@given(
    st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=8),
    st.integers(-1_000_000, 1_000_000),
)
def test_to_fen_sum_exact_even_when_values_do_not_add_up(values: list[float], total: int) -> None:
    out = to_fen({f"p{i}": v for i, v in enumerate(values)}, total)
    assert sum(out.values()) == total
    assert max(out.values()) - min(out.values()) <= math.ceil(max(values) - min(values)) + 1


def test_to_fen_negative_values_and_ties() -> None:
    assert to_fen({"a": -0.5, "b": 1.5}, 1) in ({"a": 0, "b": 1}, {"a": -1, "b": 2})
    assert to_fen({"a": -0.5, "b": 1.5}, 1) == {"a": 0, "b": 1}  # tie: smaller id first
    assert to_fen({"b": -2.25, "a": 5.25}, 3) == {"b": -2, "a": 5}
    assert to_fen({"c": 1 / 3, "b": 1 / 3, "a": 1 / 3}, 1) == {"c": 0, "b": 0, "a": 1}
    assert to_fen({"x": -10.0, "y": 10.0}, 0) == {"x": -10, "y": 10}
    # float noise does not break a tie that is exact in rationals
    thirds = {"b": 0.1 + 0.2 + 10 / 3 - 0.3, "a": 10 / 3, "c": 10 / 3}
    assert to_fen(thirds, 10) == {"b": 3, "a": 4, "c": 3}
    assert to_fen({}, 0) == {}
    with pytest.raises(ValueError):
        to_fen({}, 5)
    with pytest.raises(ValueError):
        to_fen({"a": math.inf}, 5)


@FAST
@given(
    st.lists(st.integers(0, 500_000), min_size=1, max_size=10),
    st.integers(0, 2_000_000),
)
def test_proportional(standalone: list[int], total: int) -> None:
    players = names(len(standalone))
    alone = dict(zip(players, standalone, strict=True))
    shares = proportional(players, alone, total)
    assert math.fsum(shares.values()) == pytest.approx(total, abs=TOL)
    assert sum(to_fen(shares, total).values()) == total
    weight = sum(standalone)
    for p in players:
        expected = total / len(players) if weight == 0 else total * alone[p] / weight
        assert shares[p] == pytest.approx(expected, abs=TOL)


def test_proportional_edge_cases() -> None:
    assert proportional(["a", "b"], {"a": 0, "b": 0}, 9) == {"a": 4.5, "b": 4.5}
    assert proportional(["a", "b"], {"a": 100, "b": 300}, 200) == {"a": 50.0, "b": 150.0}
    assert proportional([], {}, 0) == {}
    with pytest.raises(ValueError, match="negative"):
        proportional(["a", "b"], {"a": -5, "b": 5}, 0)
    with pytest.raises(ValueError, match="stand-alone"):
        proportional(["a", "b"], {"a": 5}, 5)


# --------------------------------------------------------------------------- allocate API


def test_single_participant_pays_everything() -> None:
    alloc = allocate(["SF"], lambda s: 12_345 if s else 0)
    assert alloc.total_fen == 12_345
    (share,) = alloc.shares
    assert share.shapley_fen == share.proportional_fen == share.standalone_fen == 12_345
    assert alloc.method_note == "exact Shapley over 1 participant (2 coalitions)"
    assert alloc.in_core is True


def test_empty_players() -> None:
    alloc = allocate([], lambda s: 0)
    assert alloc.total_fen == 0 and alloc.shares == ()
    assert shapley([], lambda s: 0).values == {}
    with pytest.raises(ValueError, match="empty coalition"):
        allocate([], lambda s: 100)


def test_invalid_inputs() -> None:
    def cost(s: frozenset[str]) -> int:
        return 10 * len(s)

    def fractional(s: frozenset[str]) -> float:
        return 1.5

    with pytest.raises(ValueError, match="duplicate"):
        allocate(["a", "b", "a"], cost)
    with pytest.raises(ValueError, match="duplicate"):
        shapley(["a", "a"], cost)
    with pytest.raises(ValueError, match="empty coalition"):
        shapley(["a", "b"], lambda s: 5)
    with pytest.raises(TypeError):
        shapley("ab", cost)
    with pytest.raises(TypeError, match="integer fen"):
        shapley(["a"], fractional)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        shapley(["a"], cost, samples=2)
    with pytest.raises(ValueError):
        shapley(["a"], cost, exact_max=40)


def test_allocate_memoises_and_dumps_json() -> None:
    players = names(5)
    counting = Counting(random_game(players, 9))
    alloc = allocate(players, counting)
    assert len(counting.calls) == len(set(counting.calls)) == 32
    assert alloc.method_note == "exact Shapley over 5 participants (32 coalitions)"
    data = json.loads(json.dumps(alloc.as_dict()))
    assert data["total_fen"] == alloc.total_fen
    assert [s["party"] for s in data["shares"]] == players
    assert set(data["shares"][0]) == {
        "party", "standalone_fen", "proportional_fen", "shapley_fen", "shapley_exact",
        "no_more_than_alone", "proportional_no_more_than_alone",
    }  # fmt: skip
    assert isinstance(alloc, RouteAllocation)


def test_sampled_allocation_note_and_error() -> None:
    players = names(12)
    alloc = allocate(players, random_game(players, 12), samples=200, seed=1)
    assert not alloc.exact and alloc.in_core is None
    assert alloc.method_note.startswith("sampled Shapley: 200 permutations, max standard error ")
    assert alloc.method_note.endswith(f"{alloc.max_std_error_fen:.1f} fen")
    assert alloc.max_std_error_fen > 0
    assert sum(s.shapley_fen for s in alloc.shares) == alloc.total_fen
