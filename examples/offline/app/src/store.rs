//! PinShare's metadata store, kept in `metadata.json` relative to the working directory
//! (`internal/store/store.go`: loaded at start, saved after uploads and on shutdown). The double keeps the
//! fields the API returns (`BaseMetadata` in docs/spec/basemetadata.openapi.spec.yaml), keyed by SHA-256.

use serde_json::{Map, Value, json};
use std::sync::Mutex;

/// File metadata by SHA-256.
#[derive(Default)]
pub struct Store {
    files: Mutex<Map<String, Value>>,
}

impl Store {
    /// Loads `path`; a missing file is an empty store, another error is reported and ignored (as app.go).
    pub fn load(path: &str) -> Self {
        let files = match std::fs::read(path) {
            Ok(b) => match serde_json::from_slice::<Value>(&b) {
                Ok(Value::Object(m)) => m,
                Ok(_) | Err(_) => {
                    eprintln!("Warning: could not load data file '{path}': invalid JSON");
                    Map::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                eprintln!(
                    "Warning: could not load data file '{path}': {}",
                    standin_common::goerr::path_error("open", std::path::Path::new(path), &e)
                );
                Map::new()
            }
        };
        Store {
            files: Mutex::new(files),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The CID stored for `sha256`, if any.
    pub fn cid_of(&self, sha256: &str) -> Option<String> {
        self.lock()
            .get(sha256)
            .and_then(|v| v["ipfsCID"].as_str().map(String::from))
    }

    /// Adds a record.
    pub fn add(&self, sha256: &str, cid: &str, name: &str, file_type: &str, now: &str) {
        self.lock().insert(
            sha256.to_string(),
            json!({
                "fileSHA256": sha256,
                "ipfsCID": cid,
                "fileName": name,
                "fileType": file_type,
                "lastUpdated": now,
                "addedAt": now,
            }),
        );
    }

    /// All records (`GET /files`).
    pub fn all(&self) -> Vec<Value> {
        self.lock().values().cloned().collect()
    }

    /// Writes `path`.
    pub fn save(&self, path: &str) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(&*self.lock()).map_err(|e| e.to_string())?;
        std::fs::write(path, text)
            .map_err(|e| standin_common::goerr::path_error("open", std::path::Path::new(path), &e))
    }
}
