"""An independent evaluator of resolved segql models (the test oracle), the
Hypothesis generators of random projects and data, and the differential harness."""

from .evaluate import UNCERTAIN, Evaluation, Oracle, Uncertain, evaluate

__all__ = ["UNCERTAIN", "Evaluation", "Oracle", "Uncertain", "evaluate"]
