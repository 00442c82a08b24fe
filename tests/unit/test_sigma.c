/* Six-Sigma maths against every worked example of shared/SIXSIGMA.md that core/sigma computes
 * (section numbers below are that file's), to the digits it prints (6 significant digits where
 * it gives them), plus edge cases: n = 0, x = 0, x = n, p = 0 and 1. */
#include "core/sigma.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/tap.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Prints one TAP line named by fmt, and both values when cond is false. */
static bool report(bool cond, double got, double want, const char *file, int line, const char *fmt,
                   va_list ap) __attribute__((format(printf, 6, 0)));
static bool report(bool cond, double got, double want, const char *file, int line, const char *fmt,
                   va_list ap)
{
    char name[256];
    vsnprintf(name, sizeof(name), fmt, ap);
    tap_ok(cond, file, line, "%s", name);
    if (!cond) diag("     got: %.17g\n#    want: %.17g", got, want);
    return cond;
}

/* Equal, both NaN, or within rel·|want| (within rel when want is 0). */
static bool check_close(double got, double want, double rel, const char *file, int line,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static bool check_close(double got, double want, double rel, const char *file, int line,
                        const char *fmt, ...)
{
    bool cond = got == want || (isnan(got) && isnan(want)) ||
                fabs(got - want) <= rel * (want == 0.0 ? 1.0 : fabs(want));
    va_list ap;
    va_start(ap, fmt);
    report(cond, got, want, file, line, fmt, ap);
    va_end(ap);
    return cond;
}
#define is_close(got, want, rel, ...)                                                              \
    check_close((got), (want), (rel), __FILE__, __LINE__, __VA_ARGS__)

/* got rounds to want as printed with `digits` significant digits: within half a unit in the last
 * printed place (plus 1e-9 of that unit, for want's own binary rounding). */
static bool check_digits(double got, double want, int digits, const char *file, int line,
                         const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static bool check_digits(double got, double want, int digits, const char *file, int line,
                         const char *fmt, ...)
{
    double unit = want == 0.0 ? 0.0 : pow(10.0, floor(log10(fabs(want))) - (digits - 1));
    bool cond = got == want || fabs(got - want) <= 0.5 * unit * (1.0 + 1e-9);
    va_list ap;
    va_start(ap, fmt);
    report(cond, got, want, file, line, fmt, ap);
    va_end(ap);
    return cond;
}
#define is_digits(got, want, digits, ...)                                                          \
    check_digits((got), (want), (digits), __FILE__, __LINE__, __VA_ARGS__)
#define is_sig6(got, want, ...) is_digits((got), (want), 6, __VA_ARGS__)

/* ---- §Implementation note: quantiles ------------------------------------------------------ */

/* Well-known values, and CPython's NormalDist.inv_cdf (AS241, the spec's reference) deep down. */
static const struct {
    double p, z;
} quantiles[] = {
    {0.5, 0.0},
    {0.975, 1.959963984540054},
    {0.025, -1.959963984540054},
    {0.95, 1.6448536269514722},
    {0.001, -3.090232306167814},
    {0.075, -1.4395314709384557}, /* the edge of the central region */
    {0.925, 1.439531470938456},
    {1e-5, -4.2648907939228256},
    {1e-10, -6.361340902404056},
    {1e-20, -9.262340089798405},
    {1e-100, -21.27345356096532},
    {1e-300, -37.0470962993612},
};

/* Round trip through erfc at the region boundaries and in the tails. The tolerance grows with
 * z²: a relative error e in z moves Φ by about z²·e relatively. */
static const double round_trip_p[] = {
    1e-300,
    1e-200,
    1e-50,
    1e-16,
    1.3887943864964021e-11,
    1.3887943864964e-11,
    1e-11,
    1e-6,
    0.0013,
    0.0749,
    0.0751,
    0.2,
    0.4999,
    0.5001,
    0.7,
    0.9251,
};

static void test_normal(void)
{
    for (size_t i = 0; i < N_OF(quantiles); i++)
        is_close(sigma_norm_quantile(quantiles[i].p), quantiles[i].z, 1e-15, "z(%g) = %.16g",
                 quantiles[i].p, quantiles[i].z);
    for (size_t i = 0; i < N_OF(round_trip_p); i++) {
        double p = round_trip_p[i], z = sigma_norm_quantile(p);
        is_close(sigma_norm_cdf(z), p, 1e-15 * (1.0 + z * z), "Phi(z(%.17g)) round trip", p);
    }
    is_close(sigma_norm_quantile(0.3), -sigma_norm_quantile(0.7), 1e-15, "z(0.3) = -z(0.7)");
    is_close(sigma_norm_quantile(0.0), -INFINITY, 0, "z(0) = -inf");
    is_close(sigma_norm_quantile(1.0), INFINITY, 0, "z(1) = +inf");
    is_close(sigma_norm_quantile(-0.1), NAN, 0, "z(-0.1) is NaN");
    is_close(sigma_norm_quantile(1.1), NAN, 0, "z(1.1) is NaN");
    is_close(sigma_norm_quantile(NAN), NAN, 0, "z(NaN) is NaN");
    is_close(sigma_norm_cdf(0.0), 0.5, 0, "Phi(0) = 0.5");
    is_close(sigma_norm_cdf(-3.0), 0.0013498980316300946, 1e-15, "Phi(-3) = 0.00134990");
    is_close(sigma_norm_cdf(-INFINITY), 0.0, 0, "Phi(-inf) = 0");
    is_close(sigma_norm_cdf(INFINITY), 1.0, 0, "Phi(+inf) = 1");
}

/* ---- §1, §2: DPU, DPMO, sigma level ------------------------------------------------------- */

static void test_dpmo(void)
{
    /* 10,000 responses, 9 scorers, 37 scorer hits on 31 responses. */
    is_sig6(sigma_rate(37, 10000), 0.0037, "§1 DPU 0.0037");
    is_sig6(sigma_dpo(37, 10000, 9), 4.11111e-4, "§1 DPO 4.11111e-4");
    is_sig6(sigma_dpmo(37, 10000, 9), 411.111, "§1 DPMO 411.111");
    is_sig6(1.0 - sigma_rate(31, 10000), 0.9969, "§1 FPY 0.9969");
    is_sig6(exp(-sigma_rate(37, 10000)), 0.996307, "§1 e^-DPU 0.996307");
    is_sig6(sigma_level(sigma_dpo(37, 10000, 9), SIGMA_SHIFT), 4.84520, "§1 level 4.8452 (shift)");
    is_sig6(sigma_level(sigma_dpo(37, 10000, 9), 0.0), 3.34520, "§1 level 3.34520 (no shift)");
    /* Textbook: 10 nails, 5 opportunities, 19 defects, 8 defective. */
    is_sig6(sigma_rate(19, 10), 1.9, "§1 nails DPU 1.9");
    is_sig6(sigma_dpo(19, 10, 5), 0.38, "§1 nails DPO 0.38");
    is_sig6(sigma_dpmo(19, 10, 5), 380000, "§1 nails DPMO 380,000");
    is_sig6(1.0 - sigma_rate(8, 10), 0.2, "§1 nails FPY 0.2");
    /* Deep tails, no shift: the implementation note's checks. */
    is_sig6(sigma_level(0.287e-6, 0.0), 4.99977, "DPMO 0.287 -> 5 sigma (4.99977) unshifted");
    is_sig6(sigma_level(0.000987e-6, 0.0), 5.99993, "DPMO 0.000987 -> 6 sigma (5.99993)");
    /* Edges: no defects, all defective, nothing counted. */
    is_close(sigma_level(sigma_dpo(0, 10000, 9), SIGMA_SHIFT), INFINITY, 0, "0 defects: +inf");
    is_close(sigma_level(0.0, 0.0), INFINITY, 0, "DPO 0 unshifted: +inf");
    is_close(sigma_level(1.0, SIGMA_SHIFT), -INFINITY, 0, "DPO 1: -inf");
    is_close(sigma_level(sigma_dpo(12, 2, 5), SIGMA_SHIFT), -INFINITY, 0, "DPO 1.2: -inf");
    is_close(sigma_dpo(3, 0, 9), NAN, 0, "DPO with 0 units is NaN");
    is_close(sigma_dpo(3, 10, 0), NAN, 0, "DPO with 0 opportunities is NaN");
    is_close(sigma_rate(0, 0), NAN, 0, "rate with n = 0 is NaN");
    is_close(sigma_level(NAN, SIGMA_SHIFT), NAN, 0, "level of NaN is NaN");
}

/* §2 cross-check table: DPMO at sigma 1..6 with the 1.5 shift, one- and two-tailed. */
static const struct {
    double level, one_tailed, two_tailed;
} sigma_table[] = {
    {1, 691462, 697672},   {2, 308538, 308770},   {3, 66807.2, 66810.6},
    {4, 6209.67, 6209.68}, {5, 232.629, 232.629}, {6, 3.39767, 3.39767},
};

/* Published table values inverted with the one-tailed formula (with shift unless noted), and the
 * unshifted one-tailed DPMO at 1..4 sigma (digits as printed). */
static const struct {
    double dpmo, shift, level;
    int digits;
} inversions[] = {
    {3.4, SIGMA_SHIFT, 5.99985, 6},    {233, SIGMA_SHIFT, 4.99958, 6},
    {6210, SIGMA_SHIFT, 3.99998, 6},   {66807, SIGMA_SHIFT, 3.00000, 6},
    {308538, SIGMA_SHIFT, 2.00000, 6}, {691462, SIGMA_SHIFT, 1.00000, 6},
    {66811, SIGMA_SHIFT, 2.99997, 6},
};
static const struct {
    double level, dpmo;
    int digits;
} unshifted[] = {
    {3, 1350, 4}, /* Keller: 1,350 */
    {2, 22750, 5},
    {1, 158655, 6},
    {4, 32, 2}, /* 0.0032 %, merschat */
};

static void test_sigma_table(void)
{
    for (size_t i = 0; i < N_OF(sigma_table); i++) {
        double level = sigma_table[i].level;
        double one = 1e6 * sigma_level_dpo(level, SIGMA_SHIFT);
        double two = one + 1e6 * sigma_norm_cdf(-(level + SIGMA_SHIFT));
        is_sig6(one, sigma_table[i].one_tailed, "§2 %g sigma one-tailed DPMO %g", level,
                sigma_table[i].one_tailed);
        is_sig6(two, sigma_table[i].two_tailed, "§2 %g sigma two-tailed DPMO %g", level,
                sigma_table[i].two_tailed);
    }
    for (size_t i = 0; i < N_OF(inversions); i++)
        is_digits(sigma_level(inversions[i].dpmo / 1e6, inversions[i].shift), inversions[i].level,
                  inversions[i].digits, "§2 DPMO %g -> %.6g sigma", inversions[i].dpmo,
                  inversions[i].level);
    for (size_t i = 0; i < N_OF(unshifted); i++)
        is_digits(1e6 * sigma_level_dpo(unshifted[i].level, 0.0), unshifted[i].dpmo,
                  unshifted[i].digits, "§2 unshifted %g sigma -> %g DPMO", unshifted[i].level,
                  unshifted[i].dpmo);
}

/* ---- §3: intervals ------------------------------------------------------------------------ */

static const struct {
    uint64_t x, n;
    double confidence, lo, hi;
    int digits;
} wilson[] = {
    {3, 1000, 0.95, 0.00102078, 0.00878301, 6},
    {0, 100, 0.95, 0.0, 0.0369935, 6},
    {5, 100, 0.95, 0.0215437, 0.111750, 6},
    {0, 3000, 0.90, 0.0, 9.01e-4, 3}, /* one-sided 95 % upper bound */
};
static const struct {
    uint64_t x, n;
    double confidence, lo, hi;
} agresti_coull[] = {
    {0, 100, 0.95, 0.0, 0.0444121},
    {5, 100, 0.95, 0.0186764, 0.114618},
};

static void test_intervals(void)
{
    for (size_t i = 0; i < N_OF(wilson); i++) {
        struct sigma_interval ci = sigma_wilson(wilson[i].x, wilson[i].n, wilson[i].confidence);
        is_digits(ci.lo, wilson[i].lo, wilson[i].digits, "§3 Wilson %llu/%llu lo %g",
                  (unsigned long long)wilson[i].x, (unsigned long long)wilson[i].n, wilson[i].lo);
        is_digits(ci.hi, wilson[i].hi, wilson[i].digits, "§3 Wilson %llu/%llu hi %g",
                  (unsigned long long)wilson[i].x, (unsigned long long)wilson[i].n, wilson[i].hi);
    }
    for (size_t i = 0; i < N_OF(agresti_coull); i++) {
        struct sigma_interval ci = sigma_agresti_coull(agresti_coull[i].x, agresti_coull[i].n,
                                                       agresti_coull[i].confidence);
        is_sig6(ci.lo, agresti_coull[i].lo, "§3 Agresti-Coull %llu/%llu lo",
                (unsigned long long)agresti_coull[i].x, (unsigned long long)agresti_coull[i].n);
        is_sig6(ci.hi, agresti_coull[i].hi, "§3 Agresti-Coull %llu/%llu hi",
                (unsigned long long)agresti_coull[i].x, (unsigned long long)agresti_coull[i].n);
    }
    is_digits(sigma_zero_defect_upper(3000, 0.95), 9.98e-4, 3, "§3 exact x=0 n=3000: 9.98e-4");
    is_sig6(sigma_zero_defect_upper(3000, 0.95), 9.98079e-4, "§3 exact x=0 n=3000 (6 digits)");
    ok(fabs(sigma_zero_defect_upper(3000, 0.95) - 3.0 / 3000) < 2e-6, "§3 rule of three 1e-3");
    is_close(sigma_zero_defect_upper(0, 0.95), 1.0, 0, "exact x=0 with n = 0: 1");
    is_close(sigma_zero_defect_upper(1, 0.95), 0.95, 1e-15, "exact x=0 with n = 1: 0.95");

    struct sigma_interval ci = sigma_wilson(0, 0, 0.95);
    ok(ci.lo == 0.0 && ci.hi == 1.0, "Wilson n = 0: [0, 1] (got [%g, %g])", ci.lo, ci.hi);
    ci = sigma_wilson(0, 50, 0.95);
    ok(ci.lo == 0.0 && ci.hi > 0.0 && ci.hi < 1.0, "Wilson x = 0: lo exactly 0 (got %g)", ci.lo);
    ci = sigma_wilson(50, 50, 0.95);
    ok(ci.hi == 1.0 && ci.lo > 0.0, "Wilson x = n: hi exactly 1 (got %g)", ci.hi);
    is_close(ci.lo, 1.0 - sigma_wilson(0, 50, 0.95).hi, 1e-12, "Wilson x = n mirrors x = 0");
    ci = sigma_wilson(5, 4, 0.95);
    ok(isnan(ci.lo) && isnan(ci.hi), "Wilson x > n: NaN");
    ci = sigma_agresti_coull(0, 0, 0.95);
    ok(ci.lo == 0.0 && ci.hi == 1.0, "Agresti-Coull n = 0: [0, 1]");
}

/* ---- §4: p-chart -------------------------------------------------------------------------- */

static const struct {
    double centre;
    uint64_t n;
    double sd, ucl, lcl; /* sd 0: not printed in SIXSIGMA.md */
} pcharts[] = {
    {0.2313, 50, 0.0596323, 0.410197, 0.0524032}, /* NIST/Montgomery wafers */
    {0.16, 200, 0, 0.237769, 0.0822311},          {0.02, 100, 0, 0.062, 0.0},
    {0.02, 1000, 0, 0.0332816, 0.00671843},       {0.02, 10000, 0, 0.0242, 0.0158},
};

static void test_pchart(void)
{
    for (size_t i = 0; i < N_OF(pcharts); i++) {
        struct sigma_limits l = sigma_pchart(pcharts[i].centre, pcharts[i].n);
        if (pcharts[i].sd != 0)
            is_sig6(l.sd, pcharts[i].sd, "§4 p=%g n=%llu sd %g", pcharts[i].centre,
                    (unsigned long long)pcharts[i].n, pcharts[i].sd);
        is_sig6(l.ucl, pcharts[i].ucl, "§4 p=%g n=%llu UCL %g", pcharts[i].centre,
                (unsigned long long)pcharts[i].n, pcharts[i].ucl);
        is_sig6(l.lcl, pcharts[i].lcl, "§4 p=%g n=%llu LCL %g", pcharts[i].centre,
                (unsigned long long)pcharts[i].n, pcharts[i].lcl);
        ok(l.lcl <= l.lwl && l.lwl <= l.centre && l.centre <= l.uwl && l.uwl <= l.ucl,
           "§4 p=%g n=%llu: lcl <= lwl <= CL <= uwl <= ucl", pcharts[i].centre,
           (unsigned long long)pcharts[i].n);
    }
    struct sigma_limits w = sigma_pchart(0.2313, 50);
    is_sig6(50 * w.centre, 11.565, "§4 np-chart CL 11.565");
    is_sig6(50 * w.ucl, 20.5098, "§4 np-chart UCL 20.5098");
    is_sig6(50 * w.lcl, 2.62016, "§4 np-chart LCL 2.62016");
    is_sig6(sigma_pchart(0.02, 1000).uwl, 0.0288544, "warning limit p=0.02 n=1000 (CL + 2 sd)");
    is_sig6(sigma_pchart(0.02, 1000).lwl, 0.0111456, "lower warning limit p=0.02 n=1000");
    is_sig6(sigma_pchart(0.02, 100).lwl, 0.0, "warning limit clamped at 0");

    /* Varying n against a pooled p̄ = Σx/Σn. */
    static const uint64_t xs[] = {3, 5, 2, 8, 4, 9}, ns[] = {150, 220, 90, 260, 180, 200};
    uint64_t sum_x = 0, sum_n = 0;
    for (size_t i = 0; i < N_OF(xs); i++) {
        sum_x += xs[i];
        sum_n += ns[i];
    }
    double pbar = sigma_rate(sum_x, sum_n);
    is_sig6(pbar, 0.0281818, "§4 varying n: p-bar = 31/1100 = 0.0281818");
    is_sig6(sigma_pchart(pbar, ns[0]).ucl, 0.0687189, "§4 varying n: UCL_1 0.0687189");
    is_sig6(sigma_pchart(pbar, ns[3]).ucl, 0.058972, "§4 varying n: UCL_4 0.058972");
    double z[N_OF(xs)];
    int lcl_zero = 0;
    for (size_t i = 0; i < N_OF(xs); i++) {
        lcl_zero += sigma_pchart(pbar, ns[i]).lcl == 0.0;
        z[i] = sigma_pchart_z(xs[i], ns[i], pbar);
    }
    is_int(lcl_zero, 6, "§4 varying n: all LCL = 0");
    is_sig6(z[5], 1.4372, "§4 varying n: z_6 = 1.4372");
    is_sig6(sigma_laney_sigma_z(z, N_OF(z)), 0.622907, "§4 Laney sigma_Z 0.622907");
    is_close(sigma_laney_sigma_z(z, 1), NAN, 0, "Laney sigma_Z of one point is NaN");

    /* Small n·p: the normal limits against the exact binomial tail. */
    struct sigma_limits s = sigma_pchart(0.01, 200);
    is_digits(s.ucl, 0.0311, 3, "§4 p0=0.01 n=200: UCL 0.0311");
    is_int((uint64_t)floor(s.ucl * 200) + 1, 7, "§4 p0=0.01 n=200: signal at x >= 7");
    is_digits(sigma_binom_tail(7, 200, 0.01), 0.00430, 3, "§4 P(X >= 7 | 200, 0.01) = 0.00430");
    is_sig6(sigma_binom_tail(7, 200, 0.01), 0.00429554, "§4 P(X >= 7 | 200, 0.01) 6 digits");
    is_int((uint64_t)floor(sigma_pchart(0.02, 1000).ucl * 1000) + 1, 34,
           "§4 p0=0.02 n=1000: signal at x >= 34");
    is_digits(sigma_binom_tail(34, 1000, 0.02), 0.00243, 3, "§4 P(X >= 34 | 1000, 0.02) = 0.00243");
    is_sig6(sigma_binom_tail(34, 1000, 0.02), 0.00243023, "§4 P(X >= 34 | 1000, 0.02) 6 digits");
    /* §10 time to detect: ARL = 1 / P(signal). */
    is_digits(1.0 / sigma_binom_tail(34, 1000, 0.02), 411, 3, "§10 ARL0 411 windows");
    is_digits(1.0 / sigma_binom_tail(34, 1000, 0.03), 3.96, 3, "§10 ARL1 3.96 at p1 = 0.03");
    is_digits(1.0 / sigma_binom_tail(34, 1000, 0.04), 1.17, 3, "§10 ARL1 1.17 at p1 = 0.04");

    double alpha = sigma_norm_cdf(-SIGMA_K_CONTROL);
    uint64_t u = sigma_exact_ucl_count(200, 0.01, alpha);
    is_int(u, 8, "exact UCL p0=0.01 n=200: x >= 8");
    ok(sigma_binom_tail(u, 200, 0.01) <= alpha && sigma_binom_tail(u - 1, 200, 0.01) > alpha,
       "exact UCL is the smallest count with tail <= 0.00135");
    is_int(sigma_exact_ucl_count(1000, 0.02, alpha), 35, "exact UCL p0=0.02 n=1000: x >= 35");
    is_int(sigma_exact_ucl_count(10, 0.0, alpha), 1, "exact UCL at p0 = 0: any defect");
    is_int(sigma_exact_ucl_count(10, 1.0, alpha), 11, "exact UCL at p0 = 1: never (n + 1)");
    is_int(sigma_exact_ucl_count(0, 0.5, alpha), 1, "exact UCL at n = 0: 1 (= n + 1)");

    ok(!sigma_pchart_is_above(7, 200, 0.01, 3), "n·p = 2: x = 7 is inside the exact limit");
    ok(sigma_pchart_is_above(8, 200, 0.01, 3), "n·p = 2: x = 8 is above the exact limit");
    ok(sigma_pchart_is_above(34, 1000, 0.02, 3), "n·p = 20: x = 34 is above the normal UCL");
    ok(!sigma_pchart_is_above(33, 1000, 0.02, 3), "n·p = 20: x = 33 is not");
    ok(!sigma_pchart_is_above(0, 0, 0.02, 3), "n = 0 is never above");

    /* Edges of the chart itself. */
    struct sigma_limits e = sigma_pchart(0.02, 0);
    ok(isinf(e.sd) && e.lcl == 0.0 && e.ucl == 1.0, "n = 0: sd inf, limits [0, 1]");
    e = sigma_pchart(0.9, 4);
    ok(e.ucl == 1.0 && e.uwl <= 1.0, "limits clamped at 1 (ucl %g)", e.ucl);
    is_close(sigma_pchart_z(1, 0, 0.02), NAN, 0, "z with n = 0 is NaN");
    is_close(sigma_pchart_z(0, 10, 0.0), 0.0, 0, "z at CL 0 with x = 0 is 0");
    is_close(sigma_pchart_z(1, 10, 0.0), INFINITY, 0, "z at CL 0 with x > 0 is +inf");
    is_close(sigma_pchart_z(2, 100, 0.02), 0.0, 0, "z at the centre line is 0");
}

/* Binomial tail identities, both summation directions and the degenerate cases. */
static void test_binom_tail(void)
{
    is_close(sigma_binom_tail(0, 10, 0.3), 1.0, 0, "P(X >= 0) = 1");
    is_close(sigma_binom_tail(11, 10, 0.3), 0.0, 0, "P(X >= n + 1) = 0");
    is_close(sigma_binom_tail(1, 10, 0.0), 0.0, 0, "p = 0: P(X >= 1) = 0");
    is_close(sigma_binom_tail(10, 10, 1.0), 1.0, 0, "p = 1: P(X >= n) = 1");
    is_close(sigma_binom_tail(10, 10, 0.3), pow(0.3, 10), 1e-12, "P(X >= n) = p^n");
    is_close(sigma_binom_tail(1, 10, 0.3), 1.0 - pow(0.7, 10), 1e-12, "P(X >= 1) = 1 - q^n");
    is_close(sigma_binom_tail(1, 1000000, 1e-9), -expm1(1e6 * log1p(-1e-9)), 1e-9,
             "P(X >= 1) at n = 1e6, p = 1e-9");
    is_close(sigma_binom_tail(5100, 10000, 0.5) + sigma_binom_tail(4901, 10000, 0.5), 1.0, 1e-12,
             "p = 0.5, n = 1e4: P(X >= 5100) + P(X <= 4900) = 1");
    is_close(sigma_binom_tail(3, 5, 0.5), 0.5, 1e-14, "P(X >= 3 | 5, 0.5) = 1/2");
    is_close(sigma_binom_tail(1, 10, -0.1), NAN, 0, "p < 0 is NaN");
}

/* ---- §5: run rules ------------------------------------------------------------------------ */

#define MAX_POINTS 20
static const struct {
    const char *name;
    size_t n_points;
    double z[MAX_POINTS];
    unsigned rule;
    size_t first; /* 1-based point at which the rule first fires; 0 = never */
} run_rules[] = {
    {"§5 z1", 6, {0.5, 2.5, -0.3, 2.2, 0.1, 3.4}, SIGMA_RULE_2_OF_3_BEYOND_2SD, 4},
    {"§5 z1", 6, {0.5, 2.5, -0.3, 2.2, 0.1, 3.4}, SIGMA_RULE_BEYOND_3SD, 6},
    {"§5 z1", 6, {0.5, 2.5, -0.3, 2.2, 0.1, 3.4}, SIGMA_RULE_4_OF_5_BEYOND_1SD, 0},
    {"§5 z2", 5, {1.2, 1.5, 0.4, 1.1, 1.3}, SIGMA_RULE_4_OF_5_BEYOND_1SD, 5},
    {"§5 z2", 5, {1.2, 1.5, 0.4, 1.1, 1.3}, SIGMA_RULE_2_OF_3_BEYOND_2SD, 0},
    {"§5 z3", 10, {0.2, 0.4, 0.1, 0.9, 0.3, 0.6, 0.2, 0.5, 0.7, -0.1}, SIGMA_RULE_RUN_OF_8, 8},
    {"§5 z3", 10, {0.2, 0.4, 0.1, 0.9, 0.3, 0.6, 0.2, 0.5, 0.7, -0.1}, SIGMA_RULE_RUN_OF_9, 9},
    {"§5 z3", 10, {0.2, 0.4, 0.1, 0.9, 0.3, 0.6, 0.2, 0.5, 0.7, -0.1}, SIGMA_RULE_BEYOND_3SD, 0},
    {"2 of 3 needs a full window", 3, {2.5, 2.5, 0.0}, SIGMA_RULE_2_OF_3_BEYOND_2SD, 3},
    {"exactly 3 is not beyond", 2, {3.0, 3.0000001}, SIGMA_RULE_BEYOND_3SD, 2},
    {"downward is not an alarm", 2, {-4.0, -3.5}, SIGMA_RULE_BEYOND_3SD, 0},
    {"run of 9 below CL", 9, {-1, -1, -1, -1, -1, -1, -1, -1, -1}, SIGMA_RULE_RUN_OF_9, 0},
    {"a point on CL breaks a run", 10, {1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, SIGMA_RULE_RUN_OF_9, 0},
    {"NaN breaks a run", 9, {1, 1, 1, 1, NAN, 1, 1, 1, 1}, SIGMA_RULE_RUN_OF_9, 0},
    {"6 increasing", 7, {0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, SIGMA_RULE_TREND_OF_6, 7},
    {"5 increasing", 6, {0.5, 0.1, 0.2, 0.3, 0.4, 0.5}, SIGMA_RULE_TREND_OF_6, 0},
    {"6 decreasing", 6, {0.6, 0.5, 0.4, 0.3, 0.2, 0.1}, SIGMA_RULE_TREND_OF_6, 0},
    {"14 alternating",
     15,
     {0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
     SIGMA_RULE_ALTERNATING_14,
     15},
    {"13 alternating",
     14,
     {0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
     SIGMA_RULE_ALTERNATING_14,
     0},
    {"empty history", 0, {0}, SIGMA_RULE_BEYOND_3SD, 0},
};

static void test_run_rules(void)
{
    for (size_t i = 0; i < N_OF(run_rules); i++) {
        size_t first = 0;
        for (size_t k = 1; k <= run_rules[i].n_points && first == 0; k++)
            if (sigma_run_rules(run_rules[i].z, k, run_rules[i].rule) != 0) first = k;
        is_int(first, run_rules[i].first, "%s: %s first fires at point %zu", run_rules[i].name,
               sigma_rule_name(run_rules[i].rule), run_rules[i].first);
    }
    const double z[] = {0.5, 2.5, -0.3, 2.2, 0.1, 3.4};
    is_int(sigma_run_rules(z, 6, ~0u), SIGMA_RULE_BEYOND_3SD | SIGMA_RULE_2_OF_3_BEYOND_2SD,
           "all rules at z1 point 6: beyond_3sd and 2_of_3");
    is_int(sigma_run_rules(z, 6, SIGMA_RULES_ALARM & ~(unsigned)SIGMA_RULE_BEYOND_3SD), 0,
           "only the requested rules are reported");
    is_str(sigma_rule_name(SIGMA_RULE_RUN_OF_9), "run_of_9", "rule name run_of_9");
    is_str(sigma_rule_name(SIGMA_RULE_NONE), "none", "rule name of 0");
    is_str(sigma_rule_name(SIGMA_RULE_RUN_OF_8 | SIGMA_RULE_RUN_OF_9), "unknown",
           "rule name of two bits");
}

/* ---- §6: EWMA ----------------------------------------------------------------------------- */

static void test_ewma(void)
{
    /* qcc::ewma check: mu0 = 99.13187, sd 0.8, lambda 0.1, L 3 (not a proportion: no clamp).
     * SIXSIGMA.md's 6 digits; qcc's own 7-digit print (98.80899) used an unrounded mu0. */
    double mu0 = 99.13187, var_point = 0.8 * 0.8, v = 0.0;
    static const double qcc_lo[] = {98.8919, 98.8090}, qcc_hi[] = {99.3719, 99.4548};
    for (int t = 0; t < 2; t++) {
        v = sigma_ewma_var_next(v, var_point, 0.1);
        is_sig6(mu0 - 3 * sqrt(v), qcc_lo[t], "§6 qcc t=%d LCL %g", t + 1, qcc_lo[t]);
        is_sig6(mu0 + 3 * sqrt(v), qcc_hi[t], "§6 qcc t=%d UCL %g", t + 1, qcc_hi[t]);
    }
    double steady = sqrt(sigma_ewma_var_steady(var_point, 0.1));
    is_sig6(10 + 3 * steady, 10.5506, "§6 qcc steady UCL 10.5506");
    is_sig6(10 - 3 * steady, 9.4494, "§6 qcc steady LCL 9.4494");
    double nist = sqrt(sigma_ewma_var_steady(2.0539 * 2.0539, 0.3));
    is_sig6(nist, 0.862811, "§6 NIST sigma_EWMA 0.862811");
    is_sig6(50 + 3 * nist, 52.5884, "§6 NIST UCL 52.5884");
    is_sig6(50 - 3 * nist, 47.4116, "§6 NIST LCL 47.4116");

    /* Proportion: p0 = 0.02, n = 200, lambda 0.2, L 3. */
    double sd_p = sigma_pchart(0.02, 200).sd;
    is_sig6(sd_p, 0.00989949, "§6 sigma_p 0.00989949");
    static const double ucl[] = {0.0259397, 0, 0, 0, 0.0293529}; /* t = 1 and 5 printed */
    v = 0.0;
    for (int t = 0; t < 5; t++) {
        v = sigma_ewma_var_next(v, sd_p * sd_p, 0.2);
        if (ucl[t] != 0)
            is_sig6(sigma_ewma_limits(0.02, v, 3).hi, ucl[t], "§6 p0=0.02 UCL t=%d %g", t + 1,
                    ucl[t]);
    }
    struct sigma_interval ss = sigma_ewma_limits(0.02, sigma_ewma_var_steady(sd_p * sd_p, 0.2), 3);
    is_sig6(ss.hi, 0.0298995, "§6 steady UCL 0.0298995");
    is_sig6(ss.lo, 0.0101005, "§6 steady LCL 0.0101005");
    ss = sigma_ewma_limits(0.02, sigma_ewma_var_steady(sd_p * sd_p, 0.2), 30);
    ok(ss.lo == 0.0 && ss.hi <= 1.0, "EWMA limits clamped to [0, 1]");
    /* Constant n: the recursion reaches the closed form of §6 at t = 5. */
    double closed = sd_p * sd_p * 0.2 / 1.8 * (1 - pow(0.8, 10));
    is_close(v, closed, 1e-14, "variance recursion = closed form at t = 5");

    static const double path_p[] = {0.02, 0.03, 0.05, 0.04, 0.06};
    static const double path_z[] = {0.02, 0.022, 0.0276, 0.03008, 0.036064};
    double zt = 0.02;
    for (size_t t = 0; t < N_OF(path_p); t++) {
        zt = sigma_ewma_next(zt, path_p[t], 0.2);
        is_sig6(zt, path_z[t], "§6 path Z_%zu = %g", t + 1, path_z[t]);
    }
    is_close(sigma_ewma_next(0.3, 0.7, 1.0), 0.7, 0, "lambda 1 is the Shewhart point");
}

/* ---- §9-§11: sample size, power, sampling rate -------------------------------------------- */

static const struct {
    const char *name;
    double p0, p1, alpha, power;
    double n;       /* unrounded, 0 when not printed */
    uint64_t n_up;  /* ceil */
    uint64_t cc_up; /* ceil with the continuity correction, 0 when not printed */
} detect[] = {
    {"§10 NIST", 0.10, 0.20, 0.05, 0.90, 101.219, 102, 112},
    /* Montgomery & Runger 9-11 print 832 (z rounded to 1.645, 1.28); exact quantiles: 833. */
    {"§10 MR 9-11", 0.05, 0.03, 0.05, 0.90, 832.622, 833, 0},
    {"§10 LLM 2%->4%", 0.02, 0.04, 0.05, 0.90, 0, 580, 630},
    {"§10 LLM 0.1%->0.5%", 0.001, 0.005, 0.05, 0.80, 0, 775, 1025},
};

static const struct {
    const char *name;
    double p, margin, confidence, population;
    double n;      /* unrounded, 0 when not printed */
    int digits;    /* of n */
    uint64_t n_up; /* ceil */
} estimate[] = {
    {"§9 p=.5 E=.05", 0.5, 0.05, 0.95, INFINITY, 384.146, 6, 385},
    {"§9 p=.5 E=.01", 0.5, 0.01, 0.95, INFINITY, 9603.65, 6, 9604},
    {"§9 p=.2 E=.05", 0.2, 0.05, 0.95, INFINITY, 245.853, 6, 246},
    {"§9 p=.2 E=.05 N=500", 0.2, 0.05, 0.95, 500, 0, 0, 166},
    {"§9 LLM", 0.02, 0.005, 0.95, INFINITY, 3011.7, 5, 3012},
    {"§9 LLM N=30000", 0.02, 0.005, 0.95, 30000, 0, 0, 2738},
};

static const struct {
    const char *name;
    double n_required, n_window, rate;
    int digits;
} rates[] = {
    {"§11 2%->4% at 10 req/s, 1 h", 580, 10.0 * 3600, 0.0161, 3},
    {"§11 2%->4% at 0.5 req/s, 1 h", 580, 0.5 * 3600, 0.322, 3},
    {"§11 estimation at 100 req/s, 5 min", 2738, 100.0 * 300, 0.0913, 3},
    {"§11 saturates at max_rate", 5000, 1000, 1.0, 6},
    {"clamped at min_rate", 1, 1e9, 0.001, 6},
    {"no traffic: max_rate", 580, 0, 1.0, 6},
};

static void test_sample_size(void)
{
    for (size_t i = 0; i < N_OF(detect); i++) {
        double n =
            sigma_detect_n(detect[i].p0, detect[i].p1, detect[i].alpha, detect[i].power, false);
        if (detect[i].n != 0) is_sig6(n, detect[i].n, "%s: n = %g", detect[i].name, detect[i].n);
        is_int((uint64_t)ceil(n), detect[i].n_up, "%s: n -> %llu", detect[i].name,
               (unsigned long long)detect[i].n_up);
        if (detect[i].cc_up != 0)
            is_int((uint64_t)ceil(sigma_detect_n(detect[i].p0, detect[i].p1, detect[i].alpha,
                                                 detect[i].power, true)),
                   detect[i].cc_up, "%s: with continuity correction %llu", detect[i].name,
                   (unsigned long long)detect[i].cc_up);
        uint64_t n_up = (uint64_t)ceil(n);
        ok(sigma_detect_power(detect[i].p0, detect[i].p1, detect[i].alpha, n_up) >=
               detect[i].power - 1e-12,
           "%s: n = %llu reaches power %g", detect[i].name, (unsigned long long)n_up,
           detect[i].power);
    }
    is_close(sigma_detect_n(0.02, 0.02, 0.05, 0.9, false), INFINITY, 0, "p1 = p0: n = inf");

    /* §11 power achieved at 20 req/s, 15-min windows (18,000 responses). */
    uint64_t n_5 = (uint64_t)llround(0.05 * 20 * 900), n_1 = (uint64_t)llround(0.01 * 20 * 900);
    is_int(n_5, 900, "§11 r = 5 %% of 18,000: n = 900");
    is_digits(sigma_detect_power(0.02, 0.04, 0.05, n_5), 0.970, 3, "§11 power at n=900: 0.970");
    is_digits(sigma_detect_power(0.02, 0.04, 0.05, n_1), 0.577, 3, "§11 power at n=180: 0.577");
    is_close(sigma_detect_power(0.02, 0.04, 0.05, 0), 0.0, 0, "power with n = 0 is 0");
    is_close(sigma_detect_power(0.02, 0.02, 0.05, 1000), 0.05, 1e-12, "power at p1 = p0 is alpha");

    /* §10 exact single-sampling plan for small n·p0. */
    uint64_t c = 99;
    uint64_t n = sigma_exact_plan(0.01, 0.05, 0.05, 0.10, 1000, &c);
    is_int(n, 132, "§10 exact plan: n = 132");
    is_int(c, 3, "§10 exact plan: c = 3");
    is_digits(sigma_binom_tail(c + 1, n, 0.01), 0.0443, 3, "§10 exact plan: actual alpha 0.0443");
    is_digits(1.0 - sigma_binom_tail(c + 1, n, 0.05), 0.0992, 3,
              "§10 exact plan: actual beta 0.0992");
    c = 99;
    is_int(sigma_exact_plan(0.01, 0.05, 0.05, 0.10, 131, &c), 0, "exact plan beyond max_n: 0");
    is_int(c, 99, "exact plan not found leaves c alone");

    for (size_t i = 0; i < N_OF(estimate); i++) {
        double got = sigma_estimate_n(estimate[i].p, estimate[i].margin, estimate[i].confidence,
                                      estimate[i].population);
        if (estimate[i].n != 0)
            is_digits(got, estimate[i].n, estimate[i].digits, "%s: n0 = %g", estimate[i].name,
                      estimate[i].n);
        is_int((uint64_t)ceil(got), estimate[i].n_up, "%s: n -> %llu", estimate[i].name,
               (unsigned long long)estimate[i].n_up);
    }
    for (size_t i = 0; i < N_OF(rates); i++)
        is_digits(sigma_sample_rate(rates[i].n_required, rates[i].n_window, 0.001, 1.0),
                  rates[i].rate, rates[i].digits, "%s: r = %g", rates[i].name, rates[i].rate);

    /* §13.7 multiplicity: 300 charts at the one-sided 3-sd rate. */
    double a = sigma_norm_cdf(-3.0);
    is_digits(1.0 - pow(1.0 - a, 300), 0.33, 2, "§13 P(>= 1 false alarm of 300) = 0.33");
    is_digits(300 * a, 0.405, 3, "§13 expected false alarms 0.405");
}

/* ---- State ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    struct sigma_window w;
    enum sigma_state want;
} states[] = {
    {"n = 0", {0, 0, 0.02, 0.04, 0, 0.95, 0, false}, SIGMA_INSUFFICIENT_DATA},
    {"n < min_n, even at 100 %",
     {300, 300, 0.02, 0.04, 580, 0.95, 0, false},
     SIGMA_INSUFFICIENT_DATA},
    {"x = 0", {0, 1000, 0.02, 0.04, 580, 0.95, 0, false}, SIGMA_IN_CONTROL},
    {"at the centre", {20, 1000, 0.02, 0.04, 580, 0.95, 0, false}, SIGMA_IN_CONTROL},
    {"above 2 sd", {29, 1000, 0.02, 0.04, 580, 0.95, 0, false}, SIGMA_WARNING},
    {"above UCL", {34, 1000, 0.02, 0.04, 580, 0.95, 0, false}, SIGMA_OUT_OF_CONTROL},
    {"Wilson lo above p1 beats UCL",
     {80, 1000, 0.02, 0.04, 580, 0.95, 0, false},
     SIGMA_OUT_OF_SPEC},
    {"x = n", {1000, 1000, 0.02, 0.04, 580, 0.95, 0, false}, SIGMA_OUT_OF_SPEC},
    {"p1 NaN disables out_of_spec",
     {80, 1000, 0.02, NAN, 580, 0.95, 0, false},
     SIGMA_OUT_OF_CONTROL},
    {"exact: x=7 of 200 at 1 % warns", {7, 200, 0.01, 0.2, 100, 0.95, 0, false}, SIGMA_WARNING},
    {"exact: x=8 of 200 at 1 %", {8, 200, 0.01, 0.2, 100, 0.95, 0, false}, SIGMA_OUT_OF_CONTROL},
    {"run of 9",
     {20, 1000, 0.02, 0.04, 580, 0.95, SIGMA_RULE_RUN_OF_9, false},
     SIGMA_OUT_OF_CONTROL},
    {"EWMA signal", {20, 1000, 0.02, 0.04, 580, 0.95, 0, true}, SIGMA_OUT_OF_CONTROL},
    {"2 of 3 only warns",
     {20, 1000, 0.02, 0.04, 580, 0.95, SIGMA_RULE_2_OF_3_BEYOND_2SD, false},
     SIGMA_WARNING},
    {"trend only warns",
     {20, 1000, 0.02, 0.04, 580, 0.95, SIGMA_RULE_TREND_OF_6, false},
     SIGMA_WARNING},
    {"caller's beyond_3sd bit is ignored",
     {7, 200, 0.01, 0.2, 100, 0.95, SIGMA_RULE_BEYOND_3SD, false},
     SIGMA_WARNING},
};

static void test_state(void)
{
    for (size_t i = 0; i < N_OF(states); i++)
        is_str(sigma_state_name(sigma_classify(&states[i].w)), sigma_state_name(states[i].want),
               "state: %s", states[i].name);
    is_str(sigma_state_name(SIGMA_INSUFFICIENT_DATA), "insufficient_data", "name 0");
    is_str(sigma_state_name(SIGMA_IN_CONTROL), "in_control", "name in_control");
    is_str(sigma_state_name(SIGMA_WARNING), "warning", "name warning");
    is_str(sigma_state_name(SIGMA_OUT_OF_CONTROL), "out_of_control", "name out_of_control");
    is_str(sigma_state_name(SIGMA_OUT_OF_SPEC), "out_of_spec", "name out_of_spec");
    is_str(sigma_state_name((enum sigma_state)42), "unknown", "name of a stray value");
}

int main(void)
{
    test_normal();
    test_dpmo();
    test_sigma_table();
    test_intervals();
    test_pchart();
    test_binom_tail();
    test_run_rules();
    test_ewma();
    test_sample_size();
    test_state();
    return done_testing();
}
