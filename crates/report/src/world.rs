//! World maps of geographic features: each country's shape from a vendored geometry
//! (`assets/world-110m.json`, Natural Earth's 1:110m countries, public domain, drawn
//! by `scripts/world_geometry.py`), filled by the country's count in the range. The
//! dashboard draws the same file (served at `/assets/world-110m.json`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use modelwatch_core::answer::map::MapAnswer;
use serde::{Deserialize, Serialize};

/// The vendored geometry, as the dashboard fetches it.
pub const WORLD_GEOMETRY: &str = include_str!("../assets/world-110m.json");

/// Rows of the table beside a map: the countries with the most rows.
const TABLE_ROWS: usize = 10;

#[derive(Deserialize)]
struct Country {
    name: String,
    path: String,
}

#[derive(Deserialize)]
struct Geometry {
    width: f64,
    height: f64,
    countries: BTreeMap<String, Country>,
}

static GEOMETRY: LazyLock<Option<Geometry>> =
    LazyLock::new(|| serde_json::from_str(WORLD_GEOMETRY).ok());

/// One country's shape on a map.
#[derive(Serialize)]
pub struct Shape {
    d: String,
    /// Fill lightness, 96 (no rows) down to 35 for the most rows.
    lightness: u32,
    title: String,
}

/// A row of the table beside a map.
#[derive(Serialize)]
pub struct CountryRow {
    code: String,
    name: String,
    count: String,
    share: String,
    reference_share: String,
    share_change: String,
}

/// A map, ready for the template.
#[derive(Serialize)]
pub struct WorldMap {
    feature: String,
    width: f64,
    height: f64,
    shapes: Vec<Shape>,
    rows: Vec<CountryRow>,
    /// Rows whose value names no country, and rows without a value.
    not_a_country: u64,
    missing: u64,
}

fn percent(share: Option<f64>) -> String {
    share.map_or("—".to_string(), |s| format!("{:.1}%", s * 100.0))
}

/// The map of `answer`: every country of the geometry, filled by its count.
pub fn world_map(answer: &MapAnswer) -> Option<WorldMap> {
    let geometry = GEOMETRY.as_ref()?;
    let counts: BTreeMap<&str, u64> = answer
        .countries
        .iter()
        .map(|c| (c.code.as_str(), c.count))
        .collect();
    let most = counts.values().copied().max().unwrap_or(0).max(1) as f64;
    let shapes = geometry
        .countries
        .iter()
        .map(|(code, country)| {
            let count = counts.get(code.as_str()).copied().unwrap_or(0);
            Shape {
                d: country.path.clone(),
                lightness: if count == 0 {
                    96
                } else {
                    (88.0 - 53.0 * count as f64 / most).round() as u32
                },
                title: format!("{} ({code}): {count}", country.name),
            }
        })
        .collect();
    let mut ranked: Vec<_> = answer.countries.iter().filter(|c| c.count > 0).collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    let rows = ranked
        .into_iter()
        .take(TABLE_ROWS)
        .map(|c| CountryRow {
            code: c.code.clone(),
            name: geometry
                .countries
                .get(&c.code)
                .map_or_else(|| c.code.clone(), |country| country.name.clone()),
            count: c.count.to_string(),
            share: percent(Some(c.share)),
            reference_share: percent(c.reference_share),
            share_change: c
                .share_change
                .map_or("—".to_string(), |d| format!("{:+.1} pt", d * 100.0)),
        })
        .collect();
    Some(WorldMap {
        feature: answer.feature.clone(),
        width: geometry.width,
        height: geometry.height,
        shapes,
        rows,
        not_a_country: answer.not_a_country,
        missing: answer.missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelwatch_core::answer::map::CountryEntry;
    use modelwatch_core::geo::{Geo, country_code};

    #[test]
    fn every_shape_is_a_country_code() {
        let geometry = GEOMETRY.as_ref().expect("the vendored geometry parses");
        assert!(geometry.countries.len() > 150);
        for code in geometry.countries.keys() {
            assert_eq!(country_code(code), Some(code.as_str()));
        }
    }

    #[test]
    fn the_busiest_country_is_darkest_and_the_table_ranks_by_count() {
        let entry = |code: &str, count| CountryEntry {
            code: code.to_string(),
            count,
            reference_share: None,
            share: 0.0,
            share_change: None,
        };
        let answer = MapAnswer {
            countries: vec![entry("BR", 10), entry("FR", 40), entry("SG", 5)],
            feature: "country".into(),
            from: None,
            geo: Geo::Country,
            missing: 0,
            model: None,
            not_a_country: 0,
            to: None,
            version: None,
        };
        let map = world_map(&answer).unwrap();
        let lightness = |name: &str| {
            map.shapes
                .iter()
                .find(|s| s.title.starts_with(name))
                .map(|s| s.lightness)
        };
        assert_eq!(lightness("France"), Some(35));
        assert_eq!(lightness("Brazil"), Some(75), "88 - 53 × 10/40, rounded");
        assert_eq!(lightness("Germany"), Some(96));
        // Singapore is too small for the 1:110m shapes, but it is in the table.
        let codes: Vec<_> = map.rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["FR", "BR", "SG"]);
    }
}
