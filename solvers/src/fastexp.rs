//! Exponential for non-positive arguments, written so that loops over it
//! vectorise (no branches, no libm call). Kernel sums spend almost all their
//! time in `exp`, so this decides the speed of the particle method.

/// Arguments below this return exactly 0; exp(-708) = 3.3e-308 is the
/// smallest normal result, so the absolute error of the cut is below 4e-308.
const UNDERFLOW: f64 = -708.0;

/// exp(x) for x <= 0 with relative error below 1e-15 for x >= -708, and 0 below.
///
/// Range reduction x = n ln 2 + r with |r| <= ln(2)/2 (Cody-Waite split of
/// ln 2), then a degree-12 Taylor polynomial for e^r, whose truncation error
/// is (ln 2 / 2)^13 / 13! < 1.5e-16, and scaling by 2^n through the exponent bits.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Adding and subtracting 1.5 * 2^52 rounds to the nearest integer without a libm call.
    const ROUND: f64 = 6_755_399_441_055_744.0;

    let keep = if x >= UNDERFLOW { 1.0 } else { 0.0 };
    let x = x.max(UNDERFLOW).min(0.0);
    let n = (x * LOG2E + ROUND) - ROUND;
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

    // n is in [-1022, 0] here, so 2^n is a normal number built from its exponent bits.
    let scale = f64::from_bits((((n as i64) + 1023) as u64) << 52);
    p * scale * keep
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
}
