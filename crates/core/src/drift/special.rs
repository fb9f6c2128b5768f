//! Special functions behind the p-values: the Kolmogorov distribution's survival
//! function and the chi-squared survival function (the regularised upper incomplete
//! gamma function). Checked against scipy in the drift golden tests.

use std::f64::consts::PI;

/// `P(K > λ)` for the limiting Kolmogorov distribution (scipy's `kstwobign.sf`).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.0 {
        // The theta-function form converges fast for small λ: CDF = √(2π)/λ Σ e^{−(2k−1)²π²/(8λ²)}.
        let mut cdf = 0.0;
        for k in 1..=20 {
            let j = (2 * k - 1) as f64;
            cdf += (-(j * j) * PI * PI / (8.0 * lambda * lambda)).exp();
        }
        (1.0 - (2.0 * PI).sqrt() / lambda * cdf).clamp(0.0, 1.0)
    } else {
        // 2 Σ (−1)^{k−1} e^{−2k²λ²}, alternating and fast for λ ≥ 1.
        let mut sum = 0.0;
        for k in 1..=100 {
            let term = (-2.0 * (k * k) as f64 * lambda * lambda).exp();
            sum += if k % 2 == 1 { term } else { -term };
            if term < 1e-300 {
                break;
            }
        }
        (2.0 * sum).clamp(0.0, 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised upper incomplete gamma function Q(a, x).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P(a, x).
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut n = a;
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_prefix.exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

/// `P(χ²_dof > x)` (scipy's `chi2.sf`).
pub fn chi2_sf(x: f64, dof: f64) -> f64 {
    if dof <= 0.0 {
        return f64::NAN;
    }
    gamma_q(dof / 2.0, x / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, relative: f64) -> bool {
        (a - b).abs() <= relative * b.abs().max(1e-300)
    }

    #[test]
    fn kolmogorov_matches_scipy() {
        // scipy.stats.kstwobign.sf(x)
        for (x, want) in [
            (0.3, 0.999_990_694_198_665_5),
            (0.5, 0.963_945_243_664_875_1),
            (1.0, 0.269_999_671_677_354_56),
            (1.36, 0.049_485_876_755_377_876),
            (2.0, 0.000_670_925_255_779_695_3),
            (5.0, 3.857_499_695_927_835_6e-22),
        ] {
            let got = kolmogorov_sf(x);
            assert!(close(got, want, 1e-9), "{x}: {got} vs {want}");
        }
        assert_eq!(kolmogorov_sf(0.0), 1.0);
    }

    #[test]
    fn chi2_matches_scipy() {
        // scipy.stats.chi2.sf(x, dof)
        for (x, dof, want) in [
            (3.841_458_820_694_124, 1.0, 0.049_999_999_999_999_89),
            (1.0, 2.0, 0.606_530_659_712_633_4),
            (10.0, 3.0, 0.018_566_135_463_043_25),
            (0.5, 5.0, 0.992_123_293_232_629_6),
            (700.0, 4.0, 3.485_286_229_088_924_7e-150),
        ] {
            let got = chi2_sf(x, dof);
            assert!(close(got, want, 1e-9), "{x} {dof}: {got} vs {want}");
        }
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(5.0) - 24.0_f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-13);
    }
}
