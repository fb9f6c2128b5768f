//! Geographic features: a categorical feature may carry `"geo": "country"`, its values
//! ISO 3166-1 alpha-2 codes, so that the dashboard and the report can draw it on a
//! world map. The codes are the 249 officially assigned ones plus `XK` (Kosovo, a
//! user-assigned code in wide use), as the `i18n-iso-countries` 7.14.0 package lists
//! them (`scripts/world_geometry.py` draws the map from the same package).

use serde::{Deserialize, Serialize};

/// What the values of a geographic feature name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Geo {
    /// Countries, as ISO 3166-1 alpha-2 codes (`"FR"`, `"br"`: compared in upper case).
    Country,
}

/// Every ISO 3166-1 alpha-2 code, sorted.
pub const COUNTRY_CODES: [&str; 250] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// The ISO 3166-1 alpha-2 code that `value` names (case aside), if it names one.
pub fn country_code(value: &str) -> Option<&'static str> {
    if value.len() != 2 {
        return None;
    }
    let upper = value.to_ascii_uppercase();
    COUNTRY_CODES
        .binary_search(&upper.as_str())
        .ok()
        .map(|i| COUNTRY_CODES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_distinct() {
        assert!(COUNTRY_CODES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn codes_are_matched_in_any_case_and_nothing_else() {
        assert_eq!(country_code("FR"), Some("FR"));
        assert_eq!(country_code("br"), Some("BR"));
        assert_eq!(country_code("Xk"), Some("XK"));
        for not_a_code in ["", "F", "FRA", "ZZ", "UK", "É", "12"] {
            assert_eq!(country_code(not_a_code), None, "{not_a_code}");
        }
    }
}
