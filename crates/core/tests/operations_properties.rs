//! Property tests of the served model's resource use and logs in the window profile:
//! usage and log profiles merged from parts, in any grouping and order, equal the profile
//! built from every sample and record at once, the bounded parts (instances past 1,024,
//! templates past 128) included; and they survive the profile's encoding.

use modelwatch_core::WindowProfile;
use modelwatch_core::ops::template::template;
use modelwatch_core::ops::{LogLevel, LogRecord, TelemetrySample};
use proptest::prelude::*;

/// A sample or a record, from a seed: small integer values, so sums are exact.
fn observe(profile: &mut WindowProfile, seed: (bool, u16, u16, u8, u16)) {
    let (is_log, a, b, level, t) = seed;
    if is_log {
        let record = LogRecord {
            timestamp_ms: i64::from(a),
            level: LogLevel::ALL[usize::from(level) % 6],
            // Up to 400 distinct templates, so the bound of 128 applies.
            message: format!("event kind{} happened {} times", t % 400, b),
            ..LogRecord::default()
        };
        profile.logs.observe(&record, &template(&record.message));
    } else {
        let sample = TelemetrySample {
            timestamp_ms: i64::from(a),
            instance: (b % 5 != 0).then(|| format!("pod-{}", t % 1500)),
            cpu_percent: (a % 3 != 0).then_some(f64::from(a % 800)),
            memory_bytes: Some(f64::from(b) * 1024.0),
            gpu_utilization: (level % 2 == 0).then_some(f64::from(level) / 256.0),
            gpu_memory_bytes: (t % 4 == 0).then_some(f64::from(t)),
            ..TelemetrySample::default()
        };
        profile.usage.observe(&sample);
    }
}

fn build(seeds: &[(bool, u16, u16, u8, u16)]) -> WindowProfile {
    let mut profile = WindowProfile::default();
    for seed in seeds {
        observe(&mut profile, *seed);
    }
    profile
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merging_in_any_grouping_equals_building_at_once(
        seeds in prop::collection::vec((any::<bool>(), any::<u16>(), any::<u16>(), any::<u8>(), any::<u16>()), 0..3000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        reversed in any::<bool>(),
    ) {
        let whole = build(&seeds);
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(seeds.len() + 1)).collect();
        bounds.extend([0, seeds.len()]);
        bounds.sort_unstable();
        let mut parts: Vec<WindowProfile> = bounds.windows(2).map(|w| build(&seeds[w[0]..w[1]])).collect();
        if reversed {
            parts.reverse();
        }
        // Left fold, and a tree: ((p0 + p1) + (p2 + p3)) ...
        let mut folded = WindowProfile::default();
        for part in &parts {
            folded.merge(part);
        }
        let mut level = parts;
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| {
                    let mut merged = pair[0].clone();
                    if let Some(other) = pair.get(1) {
                        merged.merge(other);
                    }
                    merged
                })
                .collect();
        }
        let tree = level.pop().unwrap_or_default();
        for merged in [&folded, &tree] {
            prop_assert_eq!(&merged.usage, &whole.usage);
            prop_assert_eq!(&merged.logs, &whole.logs);
        }
        prop_assert!(whole.logs.templates.len() <= 128);
        let kept: u64 = whole.logs.templates.values().map(|t| t.count).sum();
        prop_assert_eq!(kept + whole.logs.other, whole.logs.total());
        let back = WindowProfile::decode(&whole.encode()).unwrap();
        prop_assert_eq!(&back.usage, &whole.usage);
        prop_assert_eq!(&back.logs, &whole.logs);
    }
}

#[test]
fn the_metrics_of_a_window_are_its_counts_and_extremes() {
    let mut profile = WindowProfile::default();
    for (instance, cpu, memory) in [("a", 10.0, 5.0), ("b", 30.0, 7.0), ("a", 50.0, 6.0)] {
        profile.usage.observe(&TelemetrySample {
            instance: Some(instance.into()),
            cpu_percent: Some(cpu),
            memory_bytes: Some(memory),
            ..TelemetrySample::default()
        });
    }
    for level in [
        LogLevel::Error,
        LogLevel::Fatal,
        LogLevel::Fatal,
        LogLevel::Info,
    ] {
        let record = LogRecord {
            level,
            message: "x".into(),
            ..LogRecord::default()
        };
        profile.logs.observe(&record, "x");
    }
    let model = modelwatch_core::Model::new(
        "m",
        serde_json::from_value(serde_json::json!({"task": "regression"})).unwrap(),
    )
    .unwrap();
    let mut metrics = profile.metrics(&model);
    metrics.set_window(Some(30 * 60_000));
    assert_eq!(metrics.cpu_percent_mean, Some(Some(30.0)));
    assert_eq!(metrics.cpu_percent_max, Some(Some(50.0)));
    assert_eq!(metrics.memory_bytes_max, Some(Some(7.0)));
    assert_eq!(metrics.gpu_utilization_mean, Some(None));
    assert_eq!(metrics.instances, Some(2));
    assert_eq!((metrics.log_errors, metrics.crashes), (Some(3), Some(2)));
    // 2 crashes in half an hour: 4 per hour.
    assert_eq!(metrics.crash_rate, Some(Some(4.0)));
    assert_eq!(metrics.count, 0);
    // The wire names follow the entries (alphabetical order).
    let wire = serde_json::to_value(&metrics).unwrap();
    let keys: Vec<&str> = wire
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let names: Vec<&str> = metrics.entries().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, keys);
}
