"""Pure statistics for eval results: intervals, paired tests, multiplicity, power.

numpy at module level. The distributions a run needs (normal and t CDF and quantile, the
binomial at one half) are pure Python (``_dist``, checked against ``scipy.special``), so the end
of a run never imports scipy; ``scipy.special`` is imported only inside the functions that need
another distribution (Clopper-Pearson, power of the t test), and ``scipy.stats`` (ten times its
import cost) never. Every random draw
comes from ``numpy.random.default_rng(seed)``, so results are reproducible by seed; the
bootstrap draws exactly the indices ``scipy.stats.bootstrap`` draws from the same generator.
Degenerate input (n=0, n=1, zero variance, all-zero differences) gives defined numbers and
says why in ``method`` or ``note``; nothing returns NaN. Non-finite input is a ValueError.

No interval is narrower than the data justify: a bounded metric (``bounds=(low, high)``) whose
sample shows no spread gets an interval valid for any variable on those bounds (at a bound, the
Wilson interval of n passes in n), never zero width, and no bounded sample reads a higher lower
bound than its n values all at its maximum would (nor a lower upper bound than all at its
minimum); a clustered interval is never narrower than the unclustered one.

Modules: ``intervals`` (one sample), ``clustered``, ``paired`` (paired tests, multiplicity),
``bootstrap``, ``signflip``, ``bradley_terry`` (win rates, Bradley-Terry strengths), ``power``
(the regression gate and power analysis), ``ppi`` (prediction-powered estimates of a
human-scale mean from judge scores and a few labels), ``sequential`` (anytime-valid betting
confidence sequences for stopping a run early, Waudby-Smith & Ramdas 2024); shared records and
helpers in ``_common``.

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from ._common import Estimate, PairedResult
    from .bootstrap import bootstrap_ci, paired_bootstrap_ci
    from .bradley_terry import (
        FALLBACK_PRIOR,
        BradleyTerryResult,
        bradley_terry_ci,
        bradley_terry_exists,
        bradley_terry_fit,
        win_rate_ci,
    )
    from .clustered import (
        MIN_CLUSTERS,
        cluster_bootstrap_ci,
        cluster_bootstrap_median_ci,
        clustered_mean_ci,
        clustered_proportion_ci,
    )
    from .intervals import average_repeats, mean_ci, median_ci, median_ci_min_n, proportion_ci
    from .paired import (
        benjamini_hochberg,
        holm,
        mcnemar_exact,
        paired_test,
        permutation_pvalue,
        sign_test,
        wilcoxon_pratt,
    )
    from .power import (
        constant_baseline_report,
        min_detectable_effect,
        min_detectable_effect_binary,
        min_detectable_effect_constant_baseline,
        noninferiority_pvalue,
        paired_proportion_ci,
        regression_detected,
        required_n,
        required_n_binary,
        required_n_constant_baseline,
    )
    from .ppi import (
        LabelPlan,
        PPIResult,
        classical_mean_ci,
        ppi_labels_needed,
        ppi_lambda,
        ppi_mean_ci,
    )
    from .sequential import (
        ConfidenceSequence,
        PairedConfidenceSequence,
        betting_log_capital,
        confidence_sequence,
        decide_gate,
        decide_regression,
        paired_confidence_sequence,
        sequential_mean_ci,
        sequential_paired_test,
    )

_WHERE = {
    "BradleyTerryResult": "bradley_terry",
    "Estimate": "_common",
    "LabelPlan": "ppi",
    "PPIResult": "ppi",
    "classical_mean_ci": "ppi",
    "ppi_labels_needed": "ppi",
    "ppi_lambda": "ppi",
    "ppi_mean_ci": "ppi",
    "ConfidenceSequence": "sequential",
    "PairedConfidenceSequence": "sequential",
    "betting_log_capital": "sequential",
    "confidence_sequence": "sequential",
    "decide_gate": "sequential",
    "decide_regression": "sequential",
    "paired_confidence_sequence": "sequential",
    "sequential_mean_ci": "sequential",
    "sequential_paired_test": "sequential",
    "FALLBACK_PRIOR": "bradley_terry",
    "MIN_CLUSTERS": "clustered",
    "PairedResult": "_common",
    "average_repeats": "intervals",
    "benjamini_hochberg": "paired",
    "bootstrap_ci": "bootstrap",
    "bradley_terry_fit": "bradley_terry",
    "bradley_terry_ci": "bradley_terry",
    "bradley_terry_exists": "bradley_terry",
    "cluster_bootstrap_ci": "clustered",
    "cluster_bootstrap_median_ci": "clustered",
    "clustered_mean_ci": "clustered",
    "clustered_proportion_ci": "clustered",
    "constant_baseline_report": "power",
    "holm": "paired",
    "mcnemar_exact": "paired",
    "mean_ci": "intervals",
    "median_ci": "intervals",
    "median_ci_min_n": "intervals",
    "min_detectable_effect": "power",
    "min_detectable_effect_binary": "power",
    "min_detectable_effect_constant_baseline": "power",
    "noninferiority_pvalue": "power",
    "paired_bootstrap_ci": "bootstrap",
    "paired_proportion_ci": "power",
    "paired_test": "paired",
    "permutation_pvalue": "paired",
    "proportion_ci": "intervals",
    "regression_detected": "power",
    "required_n": "power",
    "required_n_binary": "power",
    "required_n_constant_baseline": "power",
    "sign_test": "paired",
    "wilcoxon_pratt": "paired",
    "win_rate_ci": "bradley_terry",
}

__all__ = [
    "FALLBACK_PRIOR",
    "MIN_CLUSTERS",
    "BradleyTerryResult",
    "ConfidenceSequence",
    "Estimate",
    "LabelPlan",
    "PPIResult",
    "PairedConfidenceSequence",
    "PairedResult",
    "average_repeats",
    "benjamini_hochberg",
    "betting_log_capital",
    "bootstrap_ci",
    "bradley_terry_ci",
    "bradley_terry_exists",
    "bradley_terry_fit",
    "classical_mean_ci",
    "cluster_bootstrap_ci",
    "cluster_bootstrap_median_ci",
    "clustered_mean_ci",
    "clustered_proportion_ci",
    "confidence_sequence",
    "constant_baseline_report",
    "decide_gate",
    "decide_regression",
    "holm",
    "mcnemar_exact",
    "mean_ci",
    "median_ci",
    "median_ci_min_n",
    "min_detectable_effect",
    "min_detectable_effect_binary",
    "min_detectable_effect_constant_baseline",
    "noninferiority_pvalue",
    "paired_bootstrap_ci",
    "paired_confidence_sequence",
    "paired_proportion_ci",
    "paired_test",
    "permutation_pvalue",
    "ppi_labels_needed",
    "ppi_lambda",
    "ppi_mean_ci",
    "proportion_ci",
    "regression_detected",
    "required_n",
    "required_n_binary",
    "required_n_constant_baseline",
    "sequential_mean_ci",
    "sequential_paired_test",
    "sign_test",
    "wilcoxon_pratt",
    "win_rate_ci",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
