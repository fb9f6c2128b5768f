//! Duplicate ids of a current file larger than memory: `modelwatch report` writes a
//! 64-bit hash of every id to temporary files (64 of them, by the hash's top bits), and
//! after the pass sorts each file to find hashes seen twice. Without any (the usual
//! case) the pass stands; otherwise the file is read again with only the suspect ids
//! remembered exactly, so the first row of an id is kept and later ones are refused, as
//! the server does. Memory stays flat in the number of rows.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use modelwatch_core::offline::ids::SeenIds;

const PARTS: usize = 64;

fn id_hash(id: &str) -> u64 {
    // SipHash with fixed keys: the same in both passes of one run.
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The first pass: every id's hash to disk, every row taken as a first sighting.
pub struct SpilledIds {
    _dir: tempfile::TempDir,
    parts: Vec<BufWriter<std::fs::File>>,
    error: Option<std::io::Error>,
}

impl SpilledIds {
    /// Files in a new temporary directory.
    pub fn new() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("modelwatch-ids-")
            .tempdir()?;
        let parts = (0..PARTS)
            .map(|i| {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(dir.path().join(format!("ids-{i}")))?;
                Ok(BufWriter::with_capacity(64 * 1024, file))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            _dir: dir,
            parts,
            error: None,
        })
    }

    /// The hashes written more than once.
    pub fn repeated_hashes(self) -> std::io::Result<HashSet<u64>> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut repeated = HashSet::new();
        for part in self.parts {
            let mut file = part.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            let mut hashes: Vec<u64> = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            hashes.sort_unstable();
            repeated.extend(hashes.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]));
        }
        Ok(repeated)
    }
}

impl SeenIds for SpilledIds {
    fn first_sighting(&mut self, id: &str) -> bool {
        let hash = id_hash(id);
        let part = (hash >> 58) as usize % PARTS;
        if let Err(e) = self.parts[part].write_all(&hash.to_le_bytes()) {
            self.error.get_or_insert(e);
        }
        true
    }
}

/// The second pass: ids whose hash was repeated are remembered exactly.
pub struct SuspectIds {
    suspects: HashSet<u64>,
    seen: HashSet<String>,
}

impl SuspectIds {
    /// Suspects are the ids with these hashes.
    pub fn new(suspects: HashSet<u64>) -> Self {
        Self {
            suspects,
            seen: HashSet::new(),
        }
    }
}

impl SeenIds for SuspectIds {
    fn first_sighting(&mut self, id: &str) -> bool {
        !self.suspects.contains(&id_hash(id)) || self.seen.insert(id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_passes_refuse_exactly_the_repeated_ids() {
        let ids = ["a", "b", "a", "c", "b", "a", "d"];
        let mut first = SpilledIds::new().unwrap();
        assert!(ids.iter().all(|id| first.first_sighting(id)));
        let suspects = first.repeated_hashes().unwrap();
        assert_eq!(suspects.len(), 2);
        let mut second = SuspectIds::new(suspects);
        let kept: Vec<bool> = ids.iter().map(|id| second.first_sighting(id)).collect();
        assert_eq!(kept, [true, true, false, true, false, false, true]);
    }

    #[test]
    fn distinct_ids_need_no_second_pass() {
        let mut first = SpilledIds::new().unwrap();
        for i in 0..10_000 {
            assert!(first.first_sighting(&format!("id-{i}")));
        }
        assert!(first.repeated_hashes().unwrap().is_empty());
    }
}
