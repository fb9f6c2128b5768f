//! The SQLite backend's alerting: [`crate::AlertStorage`] for [`SqliteStore`] and the
//! alerting writes of one transaction of the writer's group commit (so they share its
//! durability with ingest); reads take a connection of the read pool.

use rusqlite::Connection;

use crate::alerting as sql;
use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::storage::{
    AlertRow, AlertStorage, AlertingTx, AlertingWrite, EventRow, OutboxRow, Resource,
    SavedRuleState, StoreFuture,
};

/// The alerting writes of one SQLite transaction (the writer's group commit).
pub(crate) struct SqliteAlertingTx<'a>(pub(crate) &'a Connection);

impl AlertingTx for SqliteAlertingTx<'_> {
    fn put_definition(
        &mut self,
        resource: Resource,
        name: &str,
        model: Option<&str>,
        definition: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sql::put_definition(self.0, resource, name, model, definition, now_ms)
    }

    fn delete_definition(&mut self, resource: Resource, name: &str) -> Result<bool, StoreError> {
        sql::delete_definition(self.0, resource, name)
    }

    fn save_rule_state(
        &mut self,
        rule: &str,
        state: &[u8],
        definition: &str,
        model: &str,
    ) -> Result<(), StoreError> {
        sql::save_rule_state(self.0, rule, state, definition, model)
    }

    fn delete_rule_state(&mut self, rule: &str) -> Result<(), StoreError> {
        sql::delete_rule_state(self.0, rule)
    }

    fn insert_alert(&mut self, alert: &AlertRow) -> Result<i64, StoreError> {
        sql::insert_alert(self.0, alert)
    }

    fn resolve_alert(&mut self, id: i64, ends_at_ms: i64, now_ms: i64) -> Result<(), StoreError> {
        sql::resolve_alert(self.0, id, ends_at_ms, now_ms)
    }

    fn resolve_rule_alerts(
        &mut self,
        rule: &str,
        ends_at_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        sql::resolve_rule_alerts(self.0, rule, ends_at_ms, now_ms)
    }

    fn log_event(
        &mut self,
        at_ms: i64,
        model: Option<&str>,
        rule: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sql::log_event(self.0, at_ms, model, rule, kind, detail)
    }

    fn save_group(
        &mut self,
        channel: &str,
        key: &str,
        state: Option<&str>,
    ) -> Result<(), StoreError> {
        sql::save_group(self.0, channel, key, state)
    }

    fn enqueue(&mut self, channel: &str, payload: &str, now_ms: i64) -> Result<i64, StoreError> {
        sql::enqueue(self.0, channel, payload, now_ms)
    }

    fn dequeue(&mut self, id: i64) -> Result<(), StoreError> {
        sql::dequeue(self.0, id)
    }

    fn reschedule(
        &mut self,
        id: i64,
        attempts: i64,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        sql::reschedule(self.0, id, attempts, next_attempt_ms)
    }
}

impl AlertStorage for SqliteStore {
    fn run_alerting_tx(&self, apply: AlertingWrite) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx| apply(&mut SqliteAlertingTx(tx))))
    }

    fn load_definitions(&self, resource: Resource) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| sql::load_definitions(conn, resource))
    }

    fn load_rule_states(&self) -> Result<Vec<SavedRuleState>, StoreError> {
        self.read(sql::load_rule_states)
    }

    fn load_groups(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.read(sql::load_groups)
    }

    fn load_outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.read(sql::load_outbox)
    }

    fn list_alerts(
        &self,
        state: Option<&str>,
        model: Option<&str>,
        visible: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<AlertRow>, StoreError> {
        self.read(|conn| sql::list_alerts(conn, state, model, visible, limit))
    }

    fn list_events(
        &self,
        model: Option<&str>,
        visible: Option<&[String]>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.read(|conn| sql::list_events(conn, model, visible, before, limit))
    }
}
