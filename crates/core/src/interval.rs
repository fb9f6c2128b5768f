//! Confidence intervals of proportions: the Wilson score interval, as statsmodels'
//! `proportion_confint(count, nobs, alpha=0.05, method="wilson")` computes it.

/// The standard normal quantile at 0.975 (`scipy.stats.norm.ppf(0.975)`), the `z` of
/// a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson interval `(lower, upper)` of `successes` out of `trials`; `None`
/// when there are no trials (statsmodels divides by zero there).
pub fn wilson(successes: u64, trials: u64) -> Option<(f64, f64)> {
    wilson_z(successes as f64, trials as f64, Z_95)
}

/// The Wilson interval at normal quantile `z`, in statsmodels' arithmetic.
pub fn wilson_z(successes: f64, trials: f64, z: f64) -> Option<(f64, f64)> {
    if trials <= 0.0 || !successes.is_finite() || !trials.is_finite() {
        return None;
    }
    let p = successes / trials;
    let z2 = z * z;
    let denominator = 1.0 + z2 / trials;
    let center = (p + z2 / (2.0 * trials)) / denominator;
    let half = z * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt() / denominator;
    Some((center - half, center + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked() {
        // 0 of 10: lower is exactly 0, upper z²/(n+z²) = 3.8415/13.8415.
        let (lower, upper) = wilson(0, 10).unwrap();
        assert!(lower.abs() < 1e-15, "{lower}");
        assert!((upper - Z_95 * Z_95 / (10.0 + Z_95 * Z_95)).abs() < 1e-15);
        assert_eq!(wilson(3, 0), None);
    }
}
