"""Pure-Python twin of the evolutionary operators of the native module (``ferrotune/_core``,
``rust/ferrotune-core/src/evo/``): same names, same signatures, bit-identical results.

Encoding: a dimension code ``0`` is numerical (a coordinate in ``[0, 1]``), ``n >= 1`` is
categorical with ``n`` choices (the index, as a float). The random stream is numpy's legacy
MT19937 given as ``(key, pos)``; only ``random_sample()`` draws are consumed, and every derived
quantity is computed with plain float arithmetic in the same order as the Rust code. (Sums are
explicit loops: ``sum()`` of floats is compensated on recent Pythons.)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError

_MT_N = 624


def _rng(key: np.ndarray, pos: int) -> Callable[[], float]:
    key = np.asarray(key)
    if key.shape != (_MT_N,):
        raise InvalidArgumentError(f"MT19937 key must have {_MT_N} words, got {key.size}")
    if not 0 <= int(pos) <= _MT_N:
        raise InvalidArgumentError(f"MT19937 position must be in [0, {_MT_N}], got {pos}")
    rs = np.random.RandomState()
    rs.set_state(("MT19937", key.astype(np.uint32), int(pos), 0, 0.0))
    return lambda: float(rs.random_sample())


def _int_below(u: Callable[[], float], n: int) -> int:
    return min(int(math.floor(u() * float(n))), max(n - 1, 0))


def _gauss(u: Callable[[], float]) -> float:
    u1 = u()
    u2 = u()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def _pick_weighted(u: Callable[[], float], weights: Sequence[float]) -> int:
    total = 0.0
    for w in weights:
        total += w
    target = u() * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if acc > target:
            return i
    return max(len(weights) - 1, 0)


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _check_param(name: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or value < low or value > high:
        raise InvalidArgumentError(
            f"{name} must be a finite number in [{low}, {high}], got {value}"
        )


def _check_population(name: str, dims: Sequence[int], data: Sequence[float], n: int) -> None:
    d = len(dims)
    if d == 0:
        raise SearchSpaceError("the search space has no dimensions")
    if len(data) != n * d:
        raise InvalidArgumentError(f"{name} has {len(data)} entries, expected {n} x {d}")
    for i in range(n):
        for j, code in enumerate(dims):
            x = data[i * d + j]
            if code == 0:
                ok = 0.0 <= x <= 1.0
            else:
                ok = x >= 0.0 and float(x).is_integer() and int(x) < code
            if not ok:
                raise InvalidArgumentError(f"{name}[{i}][{j}] = {x} is outside its dimension")


def _random_point(dims: Sequence[int], u: Callable[[], float]) -> list[float]:
    return [u() if code == 0 else float(_int_below(u, code)) for code in dims]


def evo_random_point(dims: Sequence[int], key: np.ndarray, pos: int) -> list[float]:
    return _random_point(list(dims), _rng(key, pos))


# ----------------------------------------------------------------------------------------- GA


def _sbx_beta(u: float, eta: float) -> float:
    e = 1.0 / (eta + 1.0)
    if u <= 0.5:
        return (2.0 * u) ** e
    return (1.0 / (2.0 * (1.0 - u))) ** e


def _polynomial_mutation(y: float, u: float, eta: float) -> float:
    mut_pow = 1.0 / (eta + 1.0)
    if u < 0.5:
        xy = 1.0 - y
        val = 2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0)
        delta_q = val**mut_pow - 1.0
    else:
        xy = y
        val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0)
        delta_q = 1.0 - val**mut_pow
    return _clip01(y + delta_q)


def ga_propose(
    dims: Sequence[int],
    parents: Sequence[float],
    scores: Sequence[float],
    tournament_size: int,
    crossover_prob: float,
    eta_crossover: float,
    mutation_prob: float,
    eta_mutation: float,
    key: np.ndarray,
    pos: int,
) -> list[float]:
    u = _rng(key, pos)
    dims = list(dims)
    if tournament_size < 1:
        raise InvalidArgumentError("tournament_size must be at least 1")
    _check_param("crossover_prob", crossover_prob, 0.0, 1.0)
    _check_param("mutation_prob", mutation_prob, 0.0, 1.0)
    _check_param("eta_crossover", eta_crossover, 0.0, 1e9)
    _check_param("eta_mutation", eta_mutation, 0.0, 1e9)
    n = len(scores)
    _check_population("parents", dims, parents, n)
    if n == 0:
        raise InvalidArgumentError("the parent pool is empty")
    if any(math.isnan(s) for s in scores):
        raise InvalidArgumentError("scores must hold one non-NaN value per parent")
    d = len(dims)

    def tournament() -> int:
        best = _int_below(u, n)
        for _ in range(1, tournament_size):
            c = _int_below(u, n)
            if scores[c] < scores[best]:
                best = c
        return best

    a = tournament()
    b = tournament()
    pa = list(parents[a * d : (a + 1) * d])
    pb = list(parents[b * d : (b + 1) * d])
    child = list(pa)
    if u() < crossover_prob:
        for j, code in enumerate(dims):
            if code == 0:
                r = u()
                side = u()
                beta = _sbx_beta(r, eta_crossover)
                x1, x2 = pa[j], pb[j]
                if side < 0.5:
                    c = 0.5 * ((1.0 + beta) * x1 + (1.0 - beta) * x2)
                else:
                    c = 0.5 * ((1.0 - beta) * x1 + (1.0 + beta) * x2)
                child[j] = _clip01(c)
            elif u() >= 0.5:
                child[j] = pb[j]
    for j, code in enumerate(dims):
        if u() >= mutation_prob:
            continue
        if code == 0:
            child[j] = _polynomial_mutation(child[j], u(), eta_mutation)
        elif code >= 2:
            current = int(child[j])
            other = _int_below(u, code - 1)
            if other >= current:
                other += 1
            child[j] = float(other)
    return child


# ---------------------------------------------------------------------------------------- PSO


def _check_pso(inertia: float, cognitive: float, social: float, vmax: float, eps: float) -> None:
    _check_param("inertia", inertia, 0.0, 10.0)
    _check_param("cognitive", cognitive, 0.0, 10.0)
    _check_param("social", social, 0.0, 10.0)
    _check_param("max_velocity", vmax, 1e-12, 1.0)
    _check_param("categorical_epsilon", eps, 0.0, 1.0)
    if inertia + cognitive + social + eps <= 0.0:
        raise InvalidArgumentError(
            "inertia, cognitive, social and categorical_epsilon are all zero"
        )


def pso_init(
    dims: Sequence[int],
    inertia: float,
    cognitive: float,
    social: float,
    max_velocity: float,
    categorical_epsilon: float,
    key: np.ndarray,
    pos: int,
) -> list[float]:
    u = _rng(key, pos)
    dims = list(dims)
    _check_pso(inertia, cognitive, social, max_velocity, categorical_epsilon)
    _check_population("dims", dims, [0.0] * len(dims), 1)
    out = _random_point(dims, u)
    for code in dims:
        out.append((2.0 * u() - 1.0) * max_velocity if code == 0 else 0.0)
    return out


def pso_propose(
    dims: Sequence[int],
    position: Sequence[float],
    velocity: Sequence[float],
    personal_best: Sequence[float],
    global_best: Sequence[float],
    inertia: float,
    cognitive: float,
    social: float,
    max_velocity: float,
    categorical_epsilon: float,
    key: np.ndarray,
    pos: int,
) -> list[float]:
    u = _rng(key, pos)
    dims = list(dims)
    _check_pso(inertia, cognitive, social, max_velocity, categorical_epsilon)
    _check_population("position", dims, position, 1)
    _check_population("personal_best", dims, personal_best, 1)
    _check_population("global_best", dims, global_best, 1)
    d = len(dims)
    if len(velocity) != d or not all(math.isfinite(v) for v in velocity):
        raise InvalidArgumentError(f"velocity must hold {d} finite values")
    vmax = max_velocity
    new_pos = [0.0] * d
    new_vel = [0.0] * d
    for j, code in enumerate(dims):
        x, pb, gb = position[j], personal_best[j], global_best[j]
        r1 = u()
        r2 = u()
        if code == 0:
            v = inertia * velocity[j] + cognitive * r1 * (pb - x) + social * r2 * (gb - x)
            v = min(max(v, -vmax), vmax)
            moved = x + v
            if not 0.0 <= moved <= 1.0:
                v = 0.0
            new_pos[j] = _clip01(moved)
            new_vel[j] = v
        else:
            weights = []
            for c in range(code):
                cf = float(c)
                w = categorical_epsilon / float(code)
                if cf == x:
                    w += inertia
                if cf == pb:
                    w += cognitive * r1
                if cf == gb:
                    w += social * r2
                weights.append(w)
            new_pos[j] = float(_pick_weighted(u, weights))
    return new_pos + new_vel


# ---------------------------------------------------------------------------------------- ACO


def aco_rank_weights(k: int, q: float) -> list[float]:
    qk = q * float(k)
    return [math.exp(-(float(l) * float(l)) / (2.0 * qk * qk)) for l in range(k)]


def _reflect(x: float) -> float:
    if x < 0.0:
        y = -x
    elif x > 1.0:
        y = 2.0 - x
    else:
        y = x
    return _clip01(y)


def aco_propose(
    dims: Sequence[int],
    archive: Sequence[float],
    k: int,
    q: float,
    xi: float,
    categorical_epsilon: float,
    key: np.ndarray,
    pos: int,
) -> list[float]:
    u = _rng(key, pos)
    dims = list(dims)
    _check_param("q", q, 1e-12, 1e6)
    _check_param("xi", xi, 1e-12, 1e6)
    _check_param("categorical_epsilon", categorical_epsilon, 0.0, 1.0)
    _check_population("archive", dims, archive, k)
    if k < 2:
        raise InvalidArgumentError("the archive needs at least 2 solutions")
    d = len(dims)
    weights = aco_rank_weights(k, q)
    total = 0.0
    for w in weights:
        total += w
    guide = _pick_weighted(u, weights)
    g = archive[guide * d : (guide + 1) * d]
    out = [0.0] * d
    for j, code in enumerate(dims):
        if code == 0:
            spread = 0.0
            for l in range(k):
                spread += abs(archive[l * d + j] - g[j])
            sigma = xi * spread / float(k - 1)
            out[j] = _reflect(g[j] + sigma * _gauss(u))
        else:
            base = categorical_epsilon * total / float(code)
            cat_w = [base] * code
            for l in range(k):
                cat_w[int(archive[l * d + j])] += weights[l]
            out[j] = float(_pick_weighted(u, cat_w))
    return out
