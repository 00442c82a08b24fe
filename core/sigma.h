/* Six-Sigma statistics for the evaluator's tracker: normal quantiles, Wilson intervals, DPMO and
 * sigma level, p-chart limits (normal and exact binomial), run rules, EWMA, sample sizes and the
 * sampling rate, and the per-window state. Formulas and worked examples: shared/SIXSIGMA.md (§n
 * below). Pure: no I/O, no globals, no allocation; any thread may call anything here.
 * Conventions: rates are proportions in [0,1]; "confidence" is two-sided (0.95 -> z = 1.95996);
 * a result that does not exist is NaN, like libm (n = 0, x > n, a probability outside [0,1]). */
#ifndef SIGMAPROXY_CORE_SIGMA_H
#define SIGMAPROXY_CORE_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGMA_SHIFT          1.5  /* Motorola's long-term shift added to the sigma level (§2) */
#define SIGMA_K_CONTROL      3.0  /* control limits: CL ± 3 sd (§4) */
#define SIGMA_K_WARNING      2.0  /* warning limits: CL ± 2 sd (§4) */
#define SIGMA_EXACT_BELOW_NP 10.0 /* below this n·CL, limits come from the exact binomial (§4) */

/* ---- Normal distribution ---------------------------------------------------------------- */

/* Φ(x) = 0.5·erfc(−x/√2); accurate in both tails (Φ(−37) = 5.7e-300). */
double sigma_norm_cdf(double x);

/* Φ⁻¹(p) by Wichura's AS241 (PPND16), about 1e-16 relative for p down to 1e-300. Returns −INF
 * at p = 0, +INF at p = 1, NaN outside [0,1]. For an upper tail q, −sigma_norm_quantile(q) is
 * more accurate than sigma_norm_quantile(1 − q). */
double sigma_norm_quantile(double p);

/* ---- Rates and intervals (§1, §3) -------------------------------------------------------- */

struct sigma_interval {
    double lo;
    double hi;
};

/* count / n: p̂ (defectives / units), DPU (defects / units), or a frozen reference
 * p̄ = Σx / Σn (the pooled rate, not the mean of the p_i). NaN when n = 0. */
double sigma_rate(uint64_t count, uint64_t n);

/* DPO = defects / (units · opportunities); DPMO = 10⁶ · DPO. NaN when units or opportunities is
 * 0. A unit is one sampled response, an opportunity one enabled scorer (§1). */
double sigma_dpo(uint64_t n_defects, uint64_t n_units, uint64_t n_opportunities);
double sigma_dpmo(uint64_t n_defects, uint64_t n_units, uint64_t n_opportunities);

/* Wilson score interval for x of n at two-sided confidence; always inside [0,1], lo = 0 exactly
 * at x = 0 and hi = 1 at x = n. n = 0 gives [0,1]; x > n gives NaNs. The one-sided upper bound
 * at level c is the hi of the two-sided interval at 2c − 1. */
struct sigma_interval sigma_wilson(uint64_t x, uint64_t n, double confidence);

/* Agresti-Coull (adjusted Wald) interval, clipped to [0,1]: a wider cross-check of Wilson. */
struct sigma_interval sigma_agresti_coull(uint64_t x, uint64_t n, double confidence);

/* Exact (Clopper-Pearson) one-sided upper bound for the rate when x = 0 of n:
 * 1 − (1 − confidence)^(1/n) (≈ 3/n at 0.95, the "rule of three"). 1 when n = 0. */
double sigma_zero_defect_upper(uint64_t n, double confidence);

/* ---- Sigma level (§2) -------------------------------------------------------------------- */

/* One-tailed sigma level z(1 − dpo) + shift; shift is SIGMA_SHIFT for long-term (observed)
 * data, 0 for the short-term "Z.bench". dpo <= 0 (no defects) gives +INF: print +Inf in
 * Prometheus, null in JSON, never a made-up cap. dpo >= 1 (every opportunity defective) gives
 * −INF. NaN stays NaN. */
double sigma_level(double dpo, double shift);

/* The inverse: the DPO at a sigma level, Φ(shift − level) (×10⁶ for DPMO). */
double sigma_level_dpo(double level, double shift);

/* ---- p-chart (§4) ------------------------------------------------------------------------ */

/* Limits for one subgroup of n units around centre line CL (a configured p0, or a frozen p̄).
 * Invariant: 0 <= lcl <= lwl <= centre <= uwl <= ucl <= 1. For an np-chart multiply by n. */
struct sigma_limits {
    double centre; /* CL */
    double sd;     /* sqrt(CL(1 − CL)/n); +INF when n = 0 */
    double lcl;    /* max(0, CL − 3 sd) */
    double ucl;    /* min(1, CL + 3 sd) */
    double lwl;    /* max(0, CL − 2 sd) */
    double uwl;    /* min(1, CL + 2 sd) */
};

/* Normal-approximation limits; n = 0 gives [0,1]. Varying n: call once per subgroup. */
struct sigma_limits sigma_pchart(double centre, uint64_t n);

/* Standardised point z = (x/n − CL)/sd, the input of the run rules and of the Laney σ_Z.
 * 0 when x/n = CL; ±INF when sd = 0 (CL of 0 or 1) and x/n differs; NaN when n = 0. */
double sigma_pchart_z(uint64_t x, uint64_t n, double centre);

/* Is x of n above the upper k-sd limit? When n·centre >= SIGMA_EXACT_BELOW_NP, x/n > CL + k·sd;
 * below it, the exact test P(X >= x | n, CL) <= Φ(−k) (0.00135 for k = 3), because the normal
 * limits there raise the false-alarm rate 2-3 times (§4). False when n = 0. */
bool sigma_pchart_is_above(uint64_t x, uint64_t n, double centre, double k);

/* Exact binomial upper tail P(X >= x) for X ~ Binomial(n, p), from the pmf (lgamma, log1p)
 * summed away from the mode; about 1e-12 relative for n up to 10⁶. 1 when x = 0, 0 when x > n. */
double sigma_binom_tail(uint64_t x, uint64_t n, double p);

/* Exact upper limit as a count: the smallest x with P(X >= x | n, p) <= alpha (alpha =
 * Φ(−3) = 0.00135 for the nominal 3-sd rate); x >= it signals. n + 1 when no count qualifies. */
uint64_t sigma_exact_ucl_count(uint64_t n, double p, double alpha);

/* Laney σ_Z: mean moving range of consecutive z_i / 1.128 (Minitab). About 1 without
 * overdispersion; the Laney p' limits are CL ± 3·σ_Z·sd. NaN for fewer than 2 points. */
double sigma_laney_sigma_z(const double *z, size_t n_points);

/* ---- Run rules (§5) ---------------------------------------------------------------------- */

/* Rules are bits, judged on standardised points z (oldest first, newest last) and only upward:
 * for defects a run below CL is good news, not an alarm (negate z to look down). A window rule
 * fires only on a full window. Points equal to CL, or NaN, break runs. */
enum sigma_rule {
    SIGMA_RULE_NONE = 0,
    SIGMA_RULE_BEYOND_3SD = 1u << 0,        /* newest z > 3                 (WE 1, Nelson 1) */
    SIGMA_RULE_2_OF_3_BEYOND_2SD = 1u << 1, /* 2 of the last 3 above z = 2  (WE 2, Nelson 5) */
    SIGMA_RULE_4_OF_5_BEYOND_1SD = 1u << 2, /* 4 of the last 5 above z = 1  (WE 3, Nelson 6) */
    SIGMA_RULE_RUN_OF_8 = 1u << 3,          /* last 8 above CL              (WE 4) */
    SIGMA_RULE_RUN_OF_9 = 1u << 4,          /* last 9 above CL              (Nelson/Minitab 2) */
    SIGMA_RULE_TREND_OF_6 = 1u << 5,        /* last 6 strictly increasing   (Nelson 3) */
    SIGMA_RULE_ALTERNATING_14 = 1u << 6,    /* last 14 alternate up/down    (Nelson 4) */
};

/* SIXSIGMA.md §5's choice: these two mean out_of_control, any other rule at most warning. */
#define SIGMA_RULES_ALARM (SIGMA_RULE_BEYOND_3SD | SIGMA_RULE_RUN_OF_9)
/* The four tests Minitab offers on P charts. */
#define SIGMA_RULES_MINITAB_P                                                                      \
    (SIGMA_RULE_BEYOND_3SD | SIGMA_RULE_RUN_OF_9 | SIGMA_RULE_TREND_OF_6 |                         \
     SIGMA_RULE_ALTERNATING_14)

/* The subset of `rules` that fires at the newest point z[n_points − 1]; 0 when none (or when
 * n_points = 0). A run that goes on fires again at each new point. */
unsigned sigma_run_rules(const double *z, size_t n_points, unsigned rules);

/* "beyond_3sd", "run_of_9", ... for one rule bit; "none" for 0; "unknown" otherwise. */
const char *sigma_rule_name(unsigned rule);

/* ---- EWMA (§6) --------------------------------------------------------------------------- */

/* Z_t = λ·p_t + (1 − λ)·Z_{t−1}, 0 < λ <= 1; start from Z_0 = p0. */
double sigma_ewma_next(double prev, double p, double lambda);

/* Var(Z_t) = λ²·var_point + (1 − λ)²·var_prev, from var_prev = 0 at t = 0; var_point is the
 * variance of this window's statistic, CL(1 − CL)/n_t for a proportion (sigma_pchart().sd²).
 * Exact for varying n_t; equal to the closed form of §6 when n is constant. */
double sigma_ewma_var_next(double var_prev, double var_point, double lambda);

/* Steady-state variance λ/(2 − λ)·var_point (NIST's "t not small"). */
double sigma_ewma_var_steady(double var_point, double lambda);

/* Limits centre ∓ L·sqrt(var), clamped to [0,1] (the statistic is a proportion).
 * E.g. λ = 0.2, L = 3 (qcc) or λ = 0.1, L = 2.7 (Montgomery). */
struct sigma_interval sigma_ewma_limits(double centre, double var, double L);

/* ---- Sample size and sampling rate (§9-§11) ---------------------------------------------- */

/* Units per window for a one-sided test to detect p0 -> p1 at level alpha with the given power
 * (normal approximation, NIST/Montgomery-Runger 9-38, exact quantiles):
 *   [(z(1−α)·sqrt(p0 q0) + z(power)·sqrt(p1 q1)) / |p1 − p0|]²,
 * plus 1/|p1 − p0| when `continuity` (Fleiss-Levin-Paik). Not rounded: take ceil(). +INF when
 * p0 = p1. When n·p0 < ~5 prefer sigma_exact_plan(). */
double sigma_detect_n(double p0, double p1, double alpha, double power, bool continuity);

/* The power that n units per window actually give for that test:
 * 1 − Φ((p0 + z(1−α)·sqrt(p0 q0/n) − p1) / sqrt(p1 q1/n)), mirrored when p1 < p0 (the test
 * then looks down, as sigma_detect_n does with |p1 − p0|). 0 when n = 0. */
double sigma_detect_power(double p0, double p1, double alpha, uint64_t n);

/* Exact binomial single-sampling plan (§10): the smallest n <= max_n with an acceptance number c
 * such that P(X > c | p0) <= alpha and P(X <= c | p1) <= beta. Returns n and sets *c, or returns
 * 0 (and leaves *c alone) when no n up to max_n works. O(max_n · log n) tail evaluations. */
uint64_t sigma_exact_plan(double p0, double p1, double alpha, double beta, uint64_t max_n,
                          uint64_t *c);

/* Units to estimate p within ±margin at two-sided confidence (Cochran):
 * n0 = z²·p(1 − p)/margin², with the finite-population correction n0/(1 + (n0 − 1)/population)
 * for a window of `population` responses (INFINITY: none). Not rounded: take ceil(). */
double sigma_estimate_n(double p, double margin, double confidence, double population);

/* Sampling rate n_required / n_window, clamped to [min_rate, max_rate]; n_window is the expected
 * number of responses per window (request rate × window length). max_rate when n_window <= 0.
 * Pass a rounded-up n_required. Saturating at max_rate means less power: report
 * sigma_detect_power() at the rate actually used. */
double sigma_sample_rate(double n_required, double n_window, double min_rate, double max_rate);

/* ---- State of one chart (§14, SPEC) ------------------------------------------------------ */

enum sigma_state {
    SIGMA_INSUFFICIENT_DATA = 0,
    SIGMA_IN_CONTROL,
    SIGMA_WARNING,
    SIGMA_OUT_OF_CONTROL,
    SIGMA_OUT_OF_SPEC,
};

/* One window of one chart, with the history-based signals the caller computed. */
struct sigma_window {
    uint64_t x;        /* defectives in the window; x <= n */
    uint64_t n;        /* units sampled in the window */
    double centre;     /* CL: configured p0, or a frozen reference p̄ */
    double p1;         /* acceptable rate (upper spec); NaN or 1 disables out_of_spec */
    uint64_t min_n;    /* fewer units than this: no verdict (e.g. ceil(sigma_detect_n())) */
    double confidence; /* of the Wilson interval judged against p1, e.g. 0.95 */
    unsigned rules;    /* sigma_run_rules() bits fired at this window */
    bool ewma_signal;  /* the EWMA statistic is above its UCL */
};

/* The first that holds, in this order:
 *   insufficient_data  n < max(min_n, 1): no rate on n = 3, whatever it says;
 *   out_of_spec        the Wilson lower bound exceeds p1: credibly worse than acceptable;
 *   out_of_control     above the 3-sd UCL (sigma_pchart_is_above, exact when n·CL < 10), or a
 *                      SIGMA_RULES_ALARM run rule, or the EWMA signal;
 *   warning            above the 2-sd warning limit (same test), or any other rule bit;
 *   in_control.
 * SIGMA_RULE_BEYOND_3SD in w->rules is ignored: this window's point is judged here, with exact
 * limits where the normal ones are wrong. */
enum sigma_state sigma_classify(const struct sigma_window *w);

/* "insufficient_data", "in_control", "warning", "out_of_control", "out_of_spec";
 * "unknown" for any other value. */
const char *sigma_state_name(enum sigma_state state);

#endif
