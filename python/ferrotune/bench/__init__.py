"""``python -m ferrotune.bench``: compare samplers on standard problems (see ``__main__``)."""

from ferrotune.bench.problems import PROBLEMS, Problem, ProblemUnavailable
from ferrotune.bench.samplers import SAMPLERS, register_sampler

__all__ = ["PROBLEMS", "Problem", "ProblemUnavailable", "SAMPLERS", "register_sampler"]
