//! The drift methods, as the model definition and the drift answer name them.

use serde::{Deserialize, Serialize};

/// A drift method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov; the statistic is the p-value.
    Ks,
    /// Chi-squared contingency test; the statistic is the p-value.
    Chi2,
    /// Normalised Wasserstein distance.
    WassersteinNorm,
    /// Jensen–Shannon distance.
    JensenShannon,
    /// Population stability index.
    Psi,
}

impl Method {
    /// Every method, by name.
    pub const ALL: [(&'static str, Method); 5] = [
        ("ks", Method::Ks),
        ("chi2", Method::Chi2),
        ("wasserstein_norm", Method::WassersteinNorm),
        ("jensen_shannon", Method::JensenShannon),
        ("psi", Method::Psi),
    ];

    /// Parses a method name.
    pub fn parse(name: &str) -> Option<Method> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }

    /// The default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Ks | Method::Chi2 => 0.05,
            Method::WassersteinNorm | Method::JensenShannon | Method::Psi => 0.1,
        }
    }

    /// Whether the statistic is a p-value (drift when *below* the threshold).
    pub fn is_p_value(self) -> bool {
        matches!(self, Method::Ks | Method::Chi2)
    }

    /// Whether the method applies to numeric values only.
    pub fn numeric_only(self) -> bool {
        matches!(self, Method::Ks | Method::WassersteinNorm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_name_is_the_name() {
        for (name, method) in Method::ALL {
            assert_eq!(serde_json::to_value(method).unwrap(), name);
            assert_eq!(Method::parse(name), Some(method));
            assert_eq!(method.name(), name);
        }
    }
}
