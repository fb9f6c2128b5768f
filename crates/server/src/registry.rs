//! The in-memory caches of what the store holds and every request reads: models by
//! name and current references by model id. They are updated only after the store has
//! committed a change, so they never hold what the store lost, and they can always be
//! rebuilt from the store.

use std::collections::HashMap;
use std::sync::Arc;

use modelwatch_core::drift::ReferenceProfile;
use modelwatch_store::ModelEntry;
use parking_lot::RwLock;

/// Models by name.
#[derive(Default)]
pub struct Models(RwLock<HashMap<String, Arc<ModelEntry>>>);

impl Models {
    /// The cache of `entries`.
    pub fn new(entries: impl IntoIterator<Item = ModelEntry>) -> Self {
        Self(RwLock::new(
            entries
                .into_iter()
                .map(|entry| (entry.model.name.clone(), Arc::new(entry)))
                .collect(),
        ))
    }

    /// The model called `name`, if any.
    pub fn get(&self, name: &str) -> Option<Arc<ModelEntry>> {
        self.0.read().get(name).cloned()
    }

    /// Every model, by name.
    pub fn all(&self) -> Vec<Arc<ModelEntry>> {
        let mut entries: Vec<_> = self.0.read().values().cloned().collect();
        entries.sort_by(|a, b| a.model.name.cmp(&b.model.name));
        entries
    }

    /// Every model as a map by name.
    pub fn by_name(&self) -> HashMap<String, Arc<ModelEntry>> {
        self.0.read().clone()
    }

    /// Caches a committed model.
    pub fn insert(&self, entry: Arc<ModelEntry>) {
        self.0.write().insert(entry.model.name.clone(), entry);
    }

    /// Forgets a deleted model.
    pub fn remove(&self, name: &str) {
        self.0.write().remove(name);
    }
}

/// A current reference and its upload time (epoch ms).
pub type UploadedReference = (Arc<ReferenceProfile>, i64);

/// Current references by model id.
#[derive(Default)]
pub struct References(RwLock<HashMap<i64, UploadedReference>>);

impl References {
    /// The cache of `references`.
    pub fn new(references: HashMap<i64, UploadedReference>) -> Self {
        Self(RwLock::new(references))
    }

    /// The current reference of a model, if any.
    pub fn get(&self, model_id: i64) -> Option<Arc<ReferenceProfile>> {
        self.0.read().get(&model_id).map(|(r, _)| r.clone())
    }

    /// The current reference of a model with its upload time, if any.
    pub fn with_time(&self, model_id: i64) -> Option<UploadedReference> {
        self.0.read().get(&model_id).cloned()
    }

    /// Caches a committed reference.
    pub fn insert(&self, model_id: i64, reference: UploadedReference) {
        self.0.write().insert(model_id, reference);
    }

    /// Forgets the reference of a deleted model.
    pub fn remove(&self, model_id: i64) {
        self.0.write().remove(&model_id);
    }
}
