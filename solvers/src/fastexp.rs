//! Exponential for non-positive arguments and logarithm for positive
//! arguments, written so that loops over them vectorise (no branches, no libm
//! call, only operations that SSE2 and AVX2 have in packed form). Kernel sums
//! spend almost all their time here, so these decide the speed of the
//! particle method.

/// Arguments below this return exactly 0; exp(-708) = 3.3e-308 is the
/// smallest normal result, so the absolute error of the cut is below 4e-308.
const UNDERFLOW: f64 = -708.0;

/// Adding and subtracting 1.5 * 2^52 rounds a double of magnitude below 2^51
/// to the nearest integer without a libm call. The sum then stores that
/// integer in its low mantissa bits.
const ROUND: f64 = 6_755_399_441_055_744.0;

const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// exp(x) for x <= 0 with relative error below 1e-15 for x >= -708, and 0 below.
///
/// Range reduction x = n ln 2 + r with |r| <= ln(2)/2 (Cody-Waite split of
/// ln 2), then a degree-12 Taylor polynomial for e^r, whose truncation error
/// is (ln 2 / 2)^13 / 13! < 1.5e-16, and scaling by 2^n through the exponent bits.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;

    let keep = if x >= UNDERFLOW { 1.0 } else { 0.0 };
    let x = x.clamp(UNDERFLOW, 0.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;

    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;

    // n is in [-1022, 0] here, so 2^n is a normal number built from its
    // exponent bits. The integer n is read from the mantissa bits of
    // `shifted` with 64-bit integer arithmetic, because SSE2 and AVX2 have no
    // packed double-to-int64 conversion and `n as i64` would stop the loop
    // from vectorising.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(n_bits.wrapping_add(1023) << 52);
    p * scale * keep
}

/// ln(x) for positive normal x with relative error below 1e-15 (absolute
/// error below 3e-16 near x = 1). Zero, subnormal, infinite and NaN
/// arguments give meaningless results.
///
/// Writes x = 2^e m with m in [sqrt(1/2), sqrt(2)), then
/// ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed as the
/// odd series 2 (s + s^3/3 + ... + s^19/19). The first omitted term is below
/// 2.5e-17 of the sum.
#[inline(always)]
pub fn ln_positive(x: f64) -> f64 {
    const MANTISSA_MASK: u64 = (1 << 52) - 1;
    const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    // 2^52 as a double: or-ing a small integer into its mantissa and
    // subtracting 2^52 converts that integer to a double.
    const TWO52: f64 = 4_503_599_627_370_496.0;

    let bits = x.to_bits();
    let biased_exponent = f64::from_bits((bits >> 52) | TWO52.to_bits()) - TWO52;
    let m = f64::from_bits((bits & MANTISSA_MASK) | ONE_BITS);
    let high = m > SQRT2;
    let m = if high { 0.5 * m } else { m };
    let e = biased_exponent - 1023.0 + if high { 1.0 } else { 0.0 };

    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    let ln_m = 2.0 * s + 2.0 * s * s2 * p;
    e * LN2_HI + (e * LN2_LO + ln_m)
}

/// Replaces every entry x of `values` (all <= 0) by exp(x).
pub fn exp_in_place(values: &mut [f64]) {
    for v in values.iter_mut() {
        *v = exp_nonpositive(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let x = -708.0 * (i as f64) / 200_000.0;
            let exact = x.exp();
            let rel = (exp_nonpositive(x) - exact).abs() / exact;
            worst = worst.max(rel);
        }
        assert!(worst < 1e-15, "worst relative error {worst:e}");
    }

    #[test]
    fn underflow_and_zero() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-709.0), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(-1e-300) == 1.0);
    }

    #[test]
    fn exp_scale_covers_every_exponent() {
        // Arguments n ln 2 hit every power of two that the scaling builds.
        for n in 0..=1021 {
            let x = -(n as f64) * std::f64::consts::LN_2;
            let exact = x.exp();
            let rel = (exp_nonpositive(x) - exact).abs() / exact;
            assert!(rel < 1e-15, "n = {n}: relative error {rel:e}");
        }
    }

    #[test]
    fn ln_matches_std_ln() {
        let mut worst: f64 = 0.0;
        // Log-spaced points over the whole normal range, plus a dense sweep
        // around 1 and around the sqrt(2) switch of the mantissa.
        let log_spaced = (0..=200_000).map(|i| (-708.0 + 1416.0 * (i as f64) / 200_000.0).exp());
        let near_one = (0..=20_000).map(|i| 0.9 + 0.2 * (i as f64) / 20_000.0);
        let near_sqrt2 = (0..=20_000)
            .map(|i| std::f64::consts::SQRT_2 * (1.0 + 1e-6 * (i as f64 - 10_000.0) / 10_000.0));
        for x in log_spaced.chain(near_one).chain(near_sqrt2) {
            let exact = x.ln();
            let error = (ln_positive(x) - exact).abs();
            // Relative error, except where ln x is close to 0: there the
            // absolute error is compared with the rounding of x itself.
            let scaled = error / exact.abs().max(1.0);
            worst = worst.max(scaled);
            if exact.abs() > 1e-3 {
                assert!(
                    error / exact.abs() < 1e-15,
                    "x = {x:e}: relative error {:e}",
                    error / exact.abs()
                );
            }
        }
        assert!(worst < 1e-15, "worst scaled error {worst:e}");
    }

    #[test]
    fn ln_exact_points() {
        assert_eq!(ln_positive(1.0), 0.0);
        assert!(
            (ln_positive(2.0) - std::f64::consts::LN_2).abs()
                <= f64::EPSILON * std::f64::consts::LN_2
        );
        assert!((ln_positive(f64::MIN_POSITIVE) - f64::MIN_POSITIVE.ln()).abs() < 1e-12);
        assert!((ln_positive(f64::MAX) - f64::MAX.ln()).abs() < 1e-12);
    }
}
