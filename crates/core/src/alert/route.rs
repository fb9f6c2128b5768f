//! Routing by urgency: an Alertmanager-style route tree and inhibition rules
//! (`PUT /api/v1/routing`, or `[routing]` in the configuration file).
//!
//! An alert of a rule that names no channels enters the tree at its root (which
//! matches everything). At each route whose matchers hold, the children are tried in
//! order: the alert goes down the first that matches, and on to the next ones only if
//! that child has `continue: true`. A route none of whose children matched is where
//! the alert is notified: to the route's `channels`, grouped by its `group_by` with its
//! `group_wait`, `group_interval` and `repeat_interval`. Each of these is inherited
//! from the parent when a route does not set it; the root's defaults are
//! Alertmanager's (no `group_by`: one group per route; 30s, 5m, 4h). `group_by: ["..."]`
//! groups by all labels.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::group::Timing;
use super::inhibit::{InhibitDefinition, InhibitRule};
use super::matcher::{Matcher, all_match, parse_all};
use crate::error::FieldError;
use crate::time::{Duration, HOUR_MS, MINUTE_MS};

/// Routes nest at most this deep.
pub const MAX_DEPTH: usize = 16;
/// A tree has at most this many routes.
pub const MAX_ROUTES: usize = 500;

/// A route as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct RouteDefinition {
    /// Channels notified (Alertmanager's `receiver`, as a list); inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Matchers an alert must all satisfy to take this route (not at the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matchers: Option<Vec<String>>,
    /// Labels that split alerts into groups (`["..."]`: all of them); inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Wait before a new group's first notification; inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<Duration>,
    /// Wait between notifications about a group's changes; inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<Duration>,
    /// Wait before unchanged firing alerts are notified again; inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Duration>,
    /// Whether the next siblings are tried after this route matched.
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_matching: Option<bool>,
    /// Child routes, tried in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteDefinition>>,
}

/// The routing as sent: the tree and the inhibition rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct RoutingDefinition {
    /// The root route.
    pub route: RouteDefinition,
    /// Inhibition rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibit_rules: Option<Vec<InhibitDefinition>>,
}

/// A validated route, its inherited settings filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Its place: `root`, `root.routes[0]`, `root.routes[0].routes[2]`…
    pub path: String,
    /// Matchers of this route only.
    pub matchers: Vec<Matcher>,
    /// Channels notified.
    pub channels: Vec<String>,
    /// Group-by labels; `None` groups by all labels.
    pub group_by: Option<Vec<String>>,
    /// Group timing.
    pub timing: Timing,
    /// Whether later siblings are tried too.
    pub continue_matching: bool,
    /// Child routes.
    pub routes: Vec<Route>,
}

/// Validated routing.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// The root route.
    pub root: Route,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
    /// The definition as sent: what is stored and shown.
    pub definition: RoutingDefinition,
}

impl Route {
    fn build(
        definition: &RouteDefinition,
        parent: Option<&Route>,
        field: &str,
        depth: usize,
        count: &mut usize,
        channels: &BTreeSet<String>,
    ) -> Result<Route, FieldError> {
        *count += 1;
        if *count > MAX_ROUTES {
            return Err(FieldError::new(
                field,
                format!("a routing tree has at most {MAX_ROUTES} routes"),
            ));
        }
        if depth > MAX_DEPTH {
            return Err(FieldError::new(
                field,
                format!("routes nest at most {MAX_DEPTH} deep"),
            ));
        }
        let matchers = parse_all(
            definition.matchers.as_deref().unwrap_or_default(),
            &format!("{field}.matchers"),
        )?;
        if parent.is_none() {
            if !matchers.is_empty() {
                return Err(FieldError::new(
                    format!("{field}.matchers"),
                    "the root route matches every alert and takes no matchers",
                ));
            }
            if definition.continue_matching.is_some() {
                return Err(FieldError::new(
                    format!("{field}.continue"),
                    "the root route has no siblings to continue to",
                ));
            }
        }
        let route_channels = match (&definition.channels, parent) {
            (Some(list), _) => {
                if list.len() > 32 {
                    return Err(FieldError::new(
                        format!("{field}.channels"),
                        "at most 32 channels",
                    ));
                }
                let mut seen = BTreeSet::new();
                for (i, name) in list.iter().enumerate() {
                    if !channels.contains(name) {
                        return Err(FieldError::new(
                            format!("{field}.channels[{i}]"),
                            format!(
                                "no channel named `{}`; create it with PUT /api/v1/channels/{{channel}}",
                                crate::time::truncate(name, 64)
                            ),
                        ));
                    }
                    if !seen.insert(name) {
                        return Err(FieldError::new(
                            format!("{field}.channels[{i}]"),
                            "is listed twice",
                        ));
                    }
                }
                list.clone()
            }
            (None, Some(parent)) => parent.channels.clone(),
            (None, None) => {
                return Err(FieldError::new(
                    format!("{field}.channels"),
                    "the root route needs the default channels (a list, which may be empty)",
                ));
            }
        };
        let group_by = match &definition.group_by {
            Some(labels) if labels.iter().any(|l| l == "...") => {
                if labels.len() > 1 {
                    return Err(FieldError::new(
                        format!("{field}.group_by"),
                        "`...` (all labels) stands alone",
                    ));
                }
                None
            }
            Some(labels) => {
                if labels.len() > 32 {
                    return Err(FieldError::new(
                        format!("{field}.group_by"),
                        "at most 32 label names",
                    ));
                }
                if let Some(i) = labels.iter().position(|l| l.is_empty() || l.len() > 64) {
                    return Err(FieldError::new(
                        format!("{field}.group_by[{i}]"),
                        "expected a label name",
                    ));
                }
                Some(labels.clone())
            }
            None => parent.map_or(Some(Vec::new()), |p| p.group_by.clone()),
        };
        let inherited = parent.map_or(
            Timing {
                group_wait_ms: 30_000,
                group_interval_ms: 5 * MINUTE_MS,
                repeat_interval_ms: 4 * HOUR_MS,
            },
            |p| p.timing,
        );
        let or = |d: &Option<Duration>, default: i64| d.as_ref().map_or(default, Duration::ms);
        let timing = Timing {
            group_wait_ms: or(&definition.group_wait, inherited.group_wait_ms),
            group_interval_ms: or(&definition.group_interval, inherited.group_interval_ms),
            repeat_interval_ms: or(&definition.repeat_interval, inherited.repeat_interval_ms),
        };
        if timing.repeat_interval_ms < 1000 {
            return Err(FieldError::new(
                format!("{field}.repeat_interval"),
                "must be at least 1s",
            ));
        }
        let mut route = Route {
            path: field.to_string(),
            matchers,
            channels: route_channels,
            group_by,
            timing,
            continue_matching: definition.continue_matching.unwrap_or(false),
            routes: Vec::new(),
        };
        let mut children = Vec::new();
        for (i, child) in definition.routes.iter().flatten().enumerate() {
            children.push(Route::build(
                child,
                Some(&route),
                &format!("{field}.routes[{i}]"),
                depth + 1,
                count,
                channels,
            )?);
        }
        route.routes = children;
        Ok(route)
    }

    /// The routes where an alert with `labels` is notified, in tree order (empty if
    /// this route does not match).
    pub fn matching(&self, labels: &BTreeMap<String, String>) -> Vec<&Route> {
        if !all_match(&self.matchers, labels) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for child in &self.routes {
            let matched = child.matching(labels);
            if matched.is_empty() {
                continue;
            }
            found.extend(matched);
            if !child.continue_matching {
                break;
            }
        }
        if found.is_empty() {
            found.push(self);
        }
        found
    }

    /// The group-by label values of an alert with `labels` on this route.
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        match &self.group_by {
            None => labels.clone(),
            Some(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    fn visit<'a>(&'a self, out: &mut Vec<&'a Route>) {
        out.push(self);
        for child in &self.routes {
            child.visit(out);
        }
    }

    /// The route as the API shows it: settings inherited filled in.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "path": self.path,
            "matchers": self.matchers.iter().map(|m| {
                let op = match m.op {
                    super::matcher::MatchOp::Equal => "=",
                    super::matcher::MatchOp::NotEqual => "!=",
                    super::matcher::MatchOp::Regex => "=~",
                    super::matcher::MatchOp::NotRegex => "!~",
                };
                format!("{}{op}{:?}", m.name, m.value)
            }).collect::<Vec<_>>(),
            "channels": self.channels,
            "group_by": self.group_by.clone().unwrap_or_else(|| vec!["...".into()]),
            "group_wait": crate::time::format_duration(self.timing.group_wait_ms),
            "group_interval": crate::time::format_duration(self.timing.group_interval_ms),
            "repeat_interval": crate::time::format_duration(self.timing.repeat_interval_ms),
            "continue": self.continue_matching,
            "routes": self.routes.iter().map(Route::to_json).collect::<Vec<_>>(),
        })
    }
}

impl Routing {
    /// Reads and validates routing sent as JSON against the existing `channels`.
    pub fn new(definition: &Value, channels: &BTreeSet<String>) -> Result<Self, FieldError> {
        Self::from_definition(crate::definition::from_json(definition)?, channels)
    }

    /// Validates a routing definition against the existing `channels`.
    pub fn from_definition(
        definition: RoutingDefinition,
        channels: &BTreeSet<String>,
    ) -> Result<Self, FieldError> {
        let mut count = 0;
        let root = Route::build(&definition.route, None, "route", 1, &mut count, channels)?;
        let rules = definition.inhibit_rules.as_deref().unwrap_or_default();
        if rules.len() > 100 {
            return Err(FieldError::new("inhibit_rules", "at most 100 rules"));
        }
        let inhibit_rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| InhibitRule::new(rule, &format!("inhibit_rules[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            root,
            inhibit_rules,
            definition,
        })
    }

    /// Every channel the tree names.
    pub fn channels_used(&self) -> BTreeSet<String> {
        let mut routes = Vec::new();
        self.root.visit(&mut routes);
        routes
            .iter()
            .flat_map(|r| r.channels.iter().cloned())
            .collect()
    }

    /// Finds a route by its path.
    pub fn route(&self, path: &str) -> Option<&Route> {
        let mut routes = Vec::new();
        self.root.visit(&mut routes);
        routes.into_iter().find(|r| r.path == path)
    }

    /// The routing as `GET` shows it: the definition as sent, and the tree resolved.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::to_value(&self.definition).unwrap_or_default();
        body["resolved"] = self.root.to_json();
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channels(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Alertmanager's `TestRouteMatchers` tree (dispatch/route_test.go), in our syntax.
    fn alertmanagers_tree() -> Routing {
        let known = channels(&[
            "notify-def",
            "notify-A",
            "notify-testing",
            "notify-productionA",
            "notify-productionB",
            "notify-BC",
        ]);
        Routing::new(
            &json!({"route": {
                "channels": ["notify-def"],
                "routes": [
                    {"matchers": ["owner=\"team-A\"", "level!=\"critical\""], "channels": ["notify-A"],
                     "routes": [
                        {"matchers": ["env=\"testing\"", "baz!~\".*quux\""], "channels": ["notify-testing"], "group_by": ["..."]},
                        {"matchers": ["env=\"production\""], "channels": ["notify-productionA"], "group_wait": "1m", "continue": true},
                        {"matchers": ["env=~\"produ.*\"", "job=~\".*\""], "channels": ["notify-productionB"],
                         "group_wait": "30s", "group_interval": "5m", "repeat_interval": "1h", "group_by": ["job"]}
                     ]},
                    {"matchers": ["owner=~\"team-(B|C)\""], "group_by": ["foo", "bar"], "group_wait": "2m", "channels": ["notify-BC"]},
                    {"matchers": ["group_by=\"role\""], "group_by": ["role"],
                     "routes": [
                        {"matchers": ["env=\"testing\""], "channels": ["notify-testing"],
                         "routes": [{"matchers": ["wait=\"long\""], "group_wait": "2m"}]}
                     ]}
                ]}}),
            &known,
        )
        .unwrap()
    }

    /// What Alertmanager's test expects of a match: receiver, group_by (None = all),
    /// and the three durations in ms.
    type Expected = (&'static str, Option<Vec<&'static str>>, i64, i64, i64);

    fn matched(tree: &Routing, alert: &[(&str, &str)]) -> Vec<Expected> {
        let leak = |s: &String| -> &'static str { Box::leak(s.clone().into_boxed_str()) };
        tree.root
            .matching(&labels(alert))
            .into_iter()
            .map(|r| {
                assert_eq!(r.channels.len(), 1, "{}", r.path);
                (
                    leak(&r.channels[0]),
                    r.group_by
                        .as_ref()
                        .map(|g| g.iter().map(leak).collect::<Vec<_>>()),
                    r.timing.group_wait_ms,
                    r.timing.group_interval_ms,
                    r.timing.repeat_interval_ms,
                )
            })
            .collect()
    }

    const WAIT: i64 = 30_000;
    const INTERVAL: i64 = 300_000;
    const REPEAT: i64 = 4 * 3_600_000;

    #[test]
    fn alertmanagers_examples_route_as_its_tests_expect() {
        let tree = alertmanagers_tree();
        let none = Some(Vec::new());
        // 1. {owner="team-A"}: notify-A with the defaults.
        assert_eq!(
            matched(&tree, &[("owner", "team-A")]),
            [("notify-A", none.clone(), WAIT, INTERVAL, REPEAT)]
        );
        // 2. {owner="team-C"}: notify-BC, grouped by foo and bar, waiting 2m.
        assert_eq!(
            matched(&tree, &[("owner", "team-C")]),
            [(
                "notify-BC",
                Some(vec!["foo", "bar"]),
                120_000,
                INTERVAL,
                REPEAT
            )]
        );
        // 3. {owner="team-A", env="testing"}: notify-testing, grouped by all labels.
        assert_eq!(
            matched(&tree, &[("owner", "team-A"), ("env", "testing")]),
            [("notify-testing", None, WAIT, INTERVAL, REPEAT)]
        );
        // 4. {owner="team-A", env="production"}: `continue` gives both production routes.
        assert_eq!(
            matched(&tree, &[("owner", "team-A"), ("env", "production")]),
            [
                ("notify-productionA", none.clone(), 60_000, INTERVAL, REPEAT),
                (
                    "notify-productionB",
                    Some(vec!["job"]),
                    30_000,
                    300_000,
                    3_600_000
                ),
            ]
        );
        // 5. {env="testing", group_by="role", wait="long"}: three levels down, the
        // receiver inherited from its parent and group_by from its grandparent.
        assert_eq!(
            matched(
                &tree,
                &[("env", "testing"), ("group_by", "role"), ("wait", "long")]
            ),
            [(
                "notify-testing",
                Some(vec!["role"]),
                120_000,
                INTERVAL,
                REPEAT
            )]
        );
        // And {group_by="role"} alone stops at its route with the root's receiver.
        assert_eq!(
            matched(&tree, &[("group_by", "role")]),
            [("notify-def", Some(vec!["role"]), WAIT, INTERVAL, REPEAT)]
        );
    }

    #[test]
    fn urgency_routes_critical_alerts_to_the_phone_and_the_rest_to_chat() {
        let tree = Routing::new(
            &json!({"route": {"channels": ["slack"], "group_by": ["model"],
                    "routes": [{"matchers": ["severity=critical"], "channels": ["phone", "pager"], "group_wait": "0s"},
                               {"matchers": ["model=~\"fraud.*\""], "channels": ["fraud-team"]}]}}),
            &channels(&["slack", "phone", "pager", "fraud-team"]),
        )
        .unwrap();
        let to = |alert: &[(&str, &str)]| -> Vec<Vec<String>> {
            tree.root
                .matching(&labels(alert))
                .iter()
                .map(|r| r.channels.clone())
                .collect()
        };
        assert_eq!(
            to(&[("severity", "critical"), ("model", "fraud-1")]),
            [["phone", "pager"]]
        );
        assert_eq!(
            to(&[("severity", "warning"), ("model", "fraud-1")]),
            [["fraud-team"]]
        );
        assert_eq!(
            to(&[("severity", "warning"), ("model", "credit")]),
            [["slack"]]
        );
        assert_eq!(tree.channels_used().len(), 4);
        let route = tree.route("route.routes[0]").unwrap();
        assert_eq!(route.timing.group_wait_ms, 0);
        assert_eq!(route.group_by, Some(vec!["model".to_string()]));
    }

    /// Routes, groups and inhibition together on an injected clock: the critical alert
    /// is paged at once, the warning of the same model waits its route's `group_wait`
    /// and is muted while the critical one fires, and is sent at the group's next look
    /// after the critical one resolves.
    #[test]
    fn urgency_and_inhibition_on_an_injected_clock() {
        use super::super::group::{AlertSnapshot, Group};
        use super::super::inhibit::inhibited_by;
        let tree = Routing::new(
            &json!({"route": {"channels": ["chat"], "group_wait": "30s", "group_interval": "5m",
                              "routes": [{"matchers": ["severity=critical"], "channels": ["phone"], "group_wait": "0s"}]},
                    "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"], "equal": ["model"]}]}),
            &channels(&["chat", "phone"]),
        )
        .unwrap();
        let alert = |name: &str, severity: &str, ends: Option<i64>| AlertSnapshot {
            fingerprint: name.into(),
            labels: labels(&[
                ("alertname", name),
                ("model", "credit"),
                ("severity", severity),
            ]),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: ends,
        };
        let critical = alert("acc-critical", "critical", None);
        let warning = alert("acc-warning", "warning", None);
        let group_for = |a: &AlertSnapshot, now: i64| {
            let routes = tree.root.matching(&a.labels);
            assert_eq!(routes.len(), 1);
            let route = routes[0];
            let mut group = Group::new(route.group_labels(&a.labels), now, route.timing);
            group.upsert(a.clone());
            (route.channels.clone(), route.timing, group)
        };
        let (to_phone, phone_timing, mut phone) = group_for(&critical, 0);
        let (to_chat, chat_timing, mut chat) = group_for(&warning, 0);
        assert_eq!(
            (to_phone, to_chat),
            (vec!["phone".to_string()], vec!["chat".to_string()])
        );
        let mut firing = vec![critical.clone()];
        let muted = |firing: &[AlertSnapshot], a: &AlertSnapshot| {
            let sources: Vec<_> = firing
                .iter()
                .map(|f| (f.fingerprint.as_str(), &f.labels))
                .collect();
            inhibited_by(&tree.inhibit_rules, (&a.fingerprint, &a.labels), &sources).is_some()
        };
        // t = 0: the phone rings at once; the chat group waits 30s.
        assert!(
            phone
                .look(0, phone_timing, true, |a| muted(&firing, a))
                .is_some()
        );
        assert!(
            chat.look(0, chat_timing, true, |a| muted(&firing, a))
                .is_none()
        );
        // t = 30s: the chat group is due, but its warning is inhibited.
        assert!(
            chat.look(30_000, chat_timing, true, |a| muted(&firing, a))
                .is_none()
        );
        // The critical alert resolves at t = 60s; at the next look (t = 5m30s) the
        // warning, still firing, reaches the chat.
        firing.clear();
        let sent = chat
            .look(330_000, chat_timing, true, |a| muted(&firing, a))
            .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].fingerprint, "acc-warning");
        // With the warning alone firing nothing inhibits it.
        firing.push(warning.clone());
        assert!(!muted(&firing, &warning));
    }

    #[test]
    fn hostile_trees_are_refused_naming_the_field() {
        let known = channels(&["ops"]);
        let error = |body: Value| Routing::new(&body, &known).unwrap_err().field;
        assert_eq!(
            error(json!({"route": {"channels": ["ops"], "routes": [{"matchers": ["model=~("]}]}})),
            "route.routes[0].matchers[0]"
        );
        assert_eq!(
            error(json!({"route": {"channels": ["ops"], "routes": [{"channels": ["ghost"]}]}})),
            "route.routes[0].channels[0]"
        );
        assert_eq!(error(json!({"route": {}})), "route.channels");
        assert_eq!(
            error(json!({"route": {"channels": [], "matchers": ["a=b"]}})),
            "route.matchers"
        );
        assert_eq!(
            error(json!({"route": {"channels": [], "continue": true}})),
            "route.continue"
        );
        assert_eq!(
            error(json!({"route": {"channels": [], "recievers": []}})),
            "route.recievers"
        );
        let mut deep = json!({"channels": ["ops"]});
        for _ in 0..MAX_DEPTH {
            deep = json!({"routes": [deep]});
        }
        deep["channels"] = json!(["ops"]);
        let field = error(json!({"route": deep}));
        assert!(field.starts_with("route.routes[0].routes[0]"), "{field}");
        assert_eq!(
            error(
                json!({"route": {"channels": []}, "inhibit_rules": [{"source_matchers": ["a=~["], "target_matchers": ["b=c"]}]})
            ),
            "inhibit_rules[0].source_matchers[0]"
        );
    }
}
