/* Six-Sigma statistics: pure functions of their arguments, called by the evaluator's tracker
 * (scoring thread) and the admin snapshot. Sources and worked examples: shared/SIXSIGMA.md. */
#include "core/sigma.h"

#include <float.h>
#include <math.h>

/* Wichura, M.J. (1988), "Algorithm AS 241: The percentage points of the normal distribution",
 * Applied Statistics 37(3):477-484, doi:10.2307/2347330; routine PPND16, written here from the
 * published algorithm. Three rational approximations (degree 7/7) in q = p − 0.5 for the
 * centre, and in r = sqrt(−ln min(p, 1 − p)) for the tails; the paper gives about 1e-16
 * relative accuracy down to p = 1e-316. Coefficients in ascending powers. */
static const double as241_a[8] = {
    /* Central region, |q| <= 0.425: x = q·a(r)/b(r), r = 0.180625 − q². */
    3.387132872796366608,  133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
    45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
};
static const double as241_b[8] = {
    1.0,
    42.313330701600911252,
    687.18700749205790830,
    5394.1960214247511077,
    21213.794301586595867,
    39307.895800092710610,
    28729.085735721942674,
    5226.4952788528545610,
};
static const double as241_c[8] = {
    /* Intermediate tail, r <= 5: x = c(r − 1.6)/d(r − 1.6). */
    1.42343711074968357734,   4.63033784615654529590,    5.76949722146069140550,
    3.64784832476320460504,   1.27045825245236838258,    0.241780725177450611770,
    0.0227238449892691845833, 7.74545014278341407640e-4,
};
static const double as241_d[8] = {
    1.0,
    2.05319162663775882187,
    1.67638483018380384940,
    0.689767334985100004550,
    0.148103976427480074590,
    0.0151986665636164571966,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
};
static const double as241_e[8] = {
    /* Far tail, r > 5 (p < 1.4e-11): x = e(r − 5)/f(r − 5). */
    6.65790464350110377720,    5.46378491116411436990,    1.78482653991729133580,
    0.296560571828504891230,   0.0265321895265761230930,  0.00124266094738807843860,
    2.71155556874348757815e-5, 2.01033439929228813265e-7,
};
static const double as241_f[8] = {
    1.0,
    0.599832206555887937690,
    0.136929880922735805310,
    0.0148753612908506148525,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
};

/* Horner's rule over c[0] + c[1]·x + ... + c[7]·x⁷. */
static double poly7(const double c[8], double x)
{
    double v = c[7];
    for (int i = 6; i >= 0; i--)
        v = v * x + c[i];
    return v;
}

double sigma_norm_cdf(double x)
{
    return 0.5 * erfc(-x / M_SQRT2);
}

double sigma_norm_quantile(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r = 0.180625 - q * q;
        return q * poly7(as241_a, r) / poly7(as241_b, r);
    }
    double r = sqrt(-log(q < 0.0 ? p : 1.0 - p));
    double x;
    if (r <= 5.0)
        x = poly7(as241_c, r - 1.6) / poly7(as241_d, r - 1.6);
    else
        x = poly7(as241_e, r - 5.0) / poly7(as241_f, r - 5.0);
    return q < 0.0 ? -x : x;
}

/* z(1 − α/2) for a two-sided confidence, taken from the lower tail for accuracy. */
static double two_sided_z(double confidence)
{
    return -sigma_norm_quantile((1.0 - confidence) / 2.0);
}

double sigma_rate(uint64_t count, uint64_t n)
{
    return n == 0 ? NAN : (double)count / (double)n;
}

double sigma_dpo(uint64_t n_defects, uint64_t n_units, uint64_t n_opportunities)
{
    /* The product in double: units · opportunities may not fit 64 bits. */
    double denominator = (double)n_units * (double)n_opportunities;
    return denominator == 0.0 ? NAN : (double)n_defects / denominator;
}

double sigma_dpmo(uint64_t n_defects, uint64_t n_units, uint64_t n_opportunities)
{
    return 1e6 * sigma_dpo(n_defects, n_units, n_opportunities);
}

struct sigma_interval sigma_wilson(uint64_t x, uint64_t n, double confidence)
{
    if (x > n) return (struct sigma_interval){NAN, NAN};
    if (n == 0) return (struct sigma_interval){0.0, 1.0};
    double z = two_sided_z(confidence);
    double nn = (double)n, p = (double)x / nn, z2n = z * z / nn;
    double centre = (p + z2n / 2.0) / (1.0 + z2n);
    double half = z * sqrt(p * (1.0 - p) / nn + z2n / (4.0 * nn)) / (1.0 + z2n);
    /* At x = 0 (x = n) centre and half are equal in exact arithmetic; pin the bound rather than
     * print -5e-20. */
    struct sigma_interval ci = {x == 0 ? 0.0 : centre - half, x == n ? 1.0 : centre + half};
    return ci;
}

struct sigma_interval sigma_agresti_coull(uint64_t x, uint64_t n, double confidence)
{
    if (x > n) return (struct sigma_interval){NAN, NAN};
    if (n == 0) return (struct sigma_interval){0.0, 1.0};
    double z = two_sided_z(confidence);
    double n_adj = (double)n + z * z, p_adj = ((double)x + z * z / 2.0) / n_adj;
    double half = z * sqrt(p_adj * (1.0 - p_adj) / n_adj);
    return (struct sigma_interval){fmax(0.0, p_adj - half), fmin(1.0, p_adj + half)};
}

double sigma_zero_defect_upper(uint64_t n, double confidence)
{
    if (n == 0) return 1.0;
    /* 1 − α^(1/n) without cancelling for large n. */
    return -expm1(log1p(-confidence) / (double)n);
}

double sigma_level(double dpo, double shift)
{
    if (isnan(dpo)) return NAN;
    if (dpo <= 0.0) return INFINITY;
    if (dpo >= 1.0) return -INFINITY;
    /* z(1 − dpo) = −z(dpo): the lower tail keeps every digit at DPO = 1e-9 (6σ unshifted). */
    return -sigma_norm_quantile(dpo) + shift;
}

double sigma_level_dpo(double level, double shift)
{
    return sigma_norm_cdf(shift - level);
}

struct sigma_limits sigma_pchart(double centre, uint64_t n)
{
    struct sigma_limits l = {centre, INFINITY, 0.0, 1.0, 0.0, 1.0};
    if (n == 0) return l;
    l.sd = sqrt(centre * (1.0 - centre) / (double)n);
    l.lcl = fmax(0.0, centre - SIGMA_K_CONTROL * l.sd);
    l.ucl = fmin(1.0, centre + SIGMA_K_CONTROL * l.sd);
    l.lwl = fmax(0.0, centre - SIGMA_K_WARNING * l.sd);
    l.uwl = fmin(1.0, centre + SIGMA_K_WARNING * l.sd);
    return l;
}

double sigma_pchart_z(uint64_t x, uint64_t n, double centre)
{
    if (n == 0) return NAN;
    double p = (double)x / (double)n;
    if (p == centre) return 0.0;
    return (p - centre) / sqrt(centre * (1.0 - centre) / (double)n);
}

bool sigma_pchart_is_above(uint64_t x, uint64_t n, double centre, double k)
{
    if (n == 0) return false;
    if ((double)n * centre < SIGMA_EXACT_BELOW_NP)
        return sigma_binom_tail(x, n, centre) <= sigma_norm_cdf(-k);
    return (double)x / (double)n > centre + k * sigma_pchart(centre, n).sd;
}

/* ln P(X = k) for X ~ Binomial(n, p), 0 < p < 1. lgamma_r, not lgamma: lgamma writes the
 * global signgam, and this module has no globals. */
static double log_binom_pmf(uint64_t k, uint64_t n, double p)
{
    int sign;
    double kk = (double)k, nn = (double)n;
    return lgamma_r(nn + 1.0, &sign) - lgamma_r(kk + 1.0, &sign) - lgamma_r(nn - kk + 1.0, &sign) +
           kk * log(p) + (nn - kk) * log1p(-p);
}

double sigma_binom_tail(uint64_t x, uint64_t n, double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (x == 0) return 1.0;
    if (x > n) return 0.0;
    if (p == 0.0) return 0.0;
    if (p == 1.0) return 1.0;
    /* Sum the pmf from x away from the mode, where the terms only shrink, and stop once they no
     * longer change the sum. Above the mean that is the upper tail itself; at or below it the
     * lower tail P(X <= x − 1), whose complement is then at least about 1/2 (no cancellation). */
    double odds = p / (1.0 - p);
    if ((double)x > (double)n * p) {
        double term = exp(log_binom_pmf(x, n, p)), sum = term;
        for (uint64_t k = x; k < n && term > sum * (DBL_EPSILON / 4.0); k++) {
            term *= (double)(n - k) / (double)(k + 1) * odds;
            sum += term;
        }
        return sum;
    }
    double term = exp(log_binom_pmf(x - 1, n, p)), lower = term;
    for (uint64_t k = x - 1; k > 0 && term > lower * (DBL_EPSILON / 4.0); k--) {
        term *= (double)k / (double)(n - k + 1) / odds;
        lower += term;
    }
    return fmax(0.0, 1.0 - lower);
}

uint64_t sigma_exact_ucl_count(uint64_t n, double p, double alpha)
{
    /* The tail falls as x grows and P(X >= n + 1) = 0: bisect on (lo, hi], tail(hi) <= alpha. */
    uint64_t lo = 0, hi = n + 1;
    if (sigma_binom_tail(0, n, p) <= alpha) return 0;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sigma_binom_tail(mid, n, p) <= alpha)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

double sigma_laney_sigma_z(const double *z, size_t n_points)
{
    if (n_points < 2) return NAN;
    double sum = 0.0;
    for (size_t i = 1; i < n_points; i++)
        sum += fabs(z[i] - z[i - 1]);
    /* d2 = 1.128 for moving ranges of two, as Minitab's Laney P' chart uses. */
    return sum / (double)(n_points - 1) / 1.128;
}

/* Do the last `count` points exist and all lie above z = level? */
static bool last_all_above(const double *z, size_t n_points, size_t count, double level)
{
    if (n_points < count) return false;
    for (size_t i = n_points - count; i < n_points; i++)
        if (!(z[i] > level)) return false;
    return true;
}

/* In the last full window of `window` points, are at least `need` above z = level? */
static bool last_some_above(const double *z, size_t n_points, size_t window, size_t need,
                            double level)
{
    if (n_points < window) return false;
    size_t above = 0;
    for (size_t i = n_points - window; i < n_points; i++)
        above += z[i] > level;
    return above >= need;
}

static bool last_increasing(const double *z, size_t n_points, size_t count)
{
    if (n_points < count) return false;
    for (size_t i = n_points - count + 1; i < n_points; i++)
        if (!(z[i] > z[i - 1])) return false;
    return true;
}

static bool last_alternating(const double *z, size_t n_points, size_t count)
{
    if (n_points < count) return false;
    for (size_t i = n_points - count + 2; i < n_points; i++) {
        double before = z[i - 1] - z[i - 2], after = z[i] - z[i - 1];
        if (!(before > 0.0 && after < 0.0) && !(before < 0.0 && after > 0.0)) return false;
    }
    return true;
}

unsigned sigma_run_rules(const double *z, size_t n_points, unsigned rules)
{
    unsigned fired = 0;
    if (last_all_above(z, n_points, 1, 3.0)) fired |= SIGMA_RULE_BEYOND_3SD;
    if (last_some_above(z, n_points, 3, 2, 2.0)) fired |= SIGMA_RULE_2_OF_3_BEYOND_2SD;
    if (last_some_above(z, n_points, 5, 4, 1.0)) fired |= SIGMA_RULE_4_OF_5_BEYOND_1SD;
    if (last_all_above(z, n_points, 8, 0.0)) fired |= SIGMA_RULE_RUN_OF_8;
    if (last_all_above(z, n_points, 9, 0.0)) fired |= SIGMA_RULE_RUN_OF_9;
    if (last_increasing(z, n_points, 6)) fired |= SIGMA_RULE_TREND_OF_6;
    if (last_alternating(z, n_points, 14)) fired |= SIGMA_RULE_ALTERNATING_14;
    return fired & rules;
}

const char *sigma_rule_name(unsigned rule)
{
    switch (rule) {
    case SIGMA_RULE_NONE:
        return "none";
    case SIGMA_RULE_BEYOND_3SD:
        return "beyond_3sd";
    case SIGMA_RULE_2_OF_3_BEYOND_2SD:
        return "2_of_3_beyond_2sd";
    case SIGMA_RULE_4_OF_5_BEYOND_1SD:
        return "4_of_5_beyond_1sd";
    case SIGMA_RULE_RUN_OF_8:
        return "run_of_8";
    case SIGMA_RULE_RUN_OF_9:
        return "run_of_9";
    case SIGMA_RULE_TREND_OF_6:
        return "trend_of_6";
    case SIGMA_RULE_ALTERNATING_14:
        return "alternating_14";
    }
    return "unknown";
}

double sigma_ewma_next(double prev, double p, double lambda)
{
    return lambda * p + (1.0 - lambda) * prev;
}

double sigma_ewma_var_next(double var_prev, double var_point, double lambda)
{
    return lambda * lambda * var_point + (1.0 - lambda) * (1.0 - lambda) * var_prev;
}

double sigma_ewma_var_steady(double var_point, double lambda)
{
    return lambda / (2.0 - lambda) * var_point;
}

struct sigma_interval sigma_ewma_limits(double centre, double var, double L)
{
    double half = L * sqrt(var);
    return (struct sigma_interval){fmax(0.0, centre - half), fmin(1.0, centre + half)};
}

double sigma_detect_n(double p0, double p1, double alpha, double power, bool continuity)
{
    double delta = fabs(p1 - p0);
    if (delta == 0.0) return INFINITY;
    double z_alpha = -sigma_norm_quantile(alpha), z_power = sigma_norm_quantile(power);
    double root = (z_alpha * sqrt(p0 * (1.0 - p0)) + z_power * sqrt(p1 * (1.0 - p1))) / delta;
    return root * root + (continuity ? 1.0 / delta : 0.0);
}

double sigma_detect_power(double p0, double p1, double alpha, uint64_t n)
{
    if (n == 0) return 0.0;
    double nn = (double)n;
    double margin = -sigma_norm_quantile(alpha) * sqrt(p0 * (1.0 - p0) / nn);
    /* 1 − Φ((p0 + margin − p1)/sd1) written as Φ(·) of the negated argument, which keeps the
     * digits when the power is near 0 and covers p1 < p0 by symmetry. */
    return sigma_norm_cdf((fabs(p1 - p0) - margin) / sqrt(p1 * (1.0 - p1) / nn));
}

uint64_t sigma_exact_plan(double p0, double p1, double alpha, double beta, uint64_t max_n,
                          uint64_t *c)
{
    for (uint64_t n = 1; n <= max_n; n++) {
        /* The smallest rejection count at p0 fixes c; the plan works if p1 is rejected often
         * enough with it. */
        uint64_t reject_at = sigma_exact_ucl_count(n, p0, alpha);
        if (reject_at > n) continue;
        if (1.0 - sigma_binom_tail(reject_at, n, p1) <= beta) {
            *c = reject_at - 1;
            return n;
        }
    }
    return 0;
}

double sigma_estimate_n(double p, double margin, double confidence, double population)
{
    double z = two_sided_z(confidence);
    double n0 = z * z * p * (1.0 - p) / (margin * margin);
    /* Cochran's (n0 − 1): isinf() keeps the "no population" case exact. */
    return isinf(population) ? n0 : n0 / (1.0 + (n0 - 1.0) / population);
}

double sigma_sample_rate(double n_required, double n_window, double min_rate, double max_rate)
{
    if (!(n_window > 0.0)) return max_rate;
    return fmin(max_rate, fmax(min_rate, n_required / n_window));
}

enum sigma_state sigma_classify(const struct sigma_window *w)
{
    if (w->n == 0 || w->n < w->min_n) return SIGMA_INSUFFICIENT_DATA;
    if (sigma_wilson(w->x, w->n, w->confidence).lo > w->p1) return SIGMA_OUT_OF_SPEC;
    unsigned alarm_rules = SIGMA_RULES_ALARM & ~(unsigned)SIGMA_RULE_BEYOND_3SD;
    if (sigma_pchart_is_above(w->x, w->n, w->centre, SIGMA_K_CONTROL) ||
        (w->rules & alarm_rules) != 0 || w->ewma_signal)
        return SIGMA_OUT_OF_CONTROL;
    unsigned warning_rules = ~(unsigned)SIGMA_RULES_ALARM;
    if (sigma_pchart_is_above(w->x, w->n, w->centre, SIGMA_K_WARNING) ||
        (w->rules & warning_rules) != 0)
        return SIGMA_WARNING;
    return SIGMA_IN_CONTROL;
}

const char *sigma_state_name(enum sigma_state state)
{
    switch (state) {
    case SIGMA_INSUFFICIENT_DATA:
        return "insufficient_data";
    case SIGMA_IN_CONTROL:
        return "in_control";
    case SIGMA_WARNING:
        return "warning";
    case SIGMA_OUT_OF_CONTROL:
        return "out_of_control";
    case SIGMA_OUT_OF_SPEC:
        return "out_of_spec";
    }
    return "unknown";
}
