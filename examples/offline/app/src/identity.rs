//! The libp2p identity PinShare keeps in `identity.key` (`internal/app/app.go` `setupID`): an Ed25519 key,
//! stored as libp2p's protobuf `PrivateKey` (`crypto.MarshalPrivateKey`), file mode 0600, path relative to
//! the working directory. Its peer id is the identity multihash of the protobuf public key, base58btc
//! (`12D3KooW…`), as go-libp2p's `peer.IDFromPublicKey` computes it. A file written by the double is read
//! by the real app and the other way round.

use ed25519_dalek::SigningKey;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// libp2p `crypto.pb` KeyType Ed25519.
const KEY_TYPE_ED25519: u8 = 1;

/// A loaded or new identity.
pub struct Identity {
    key: SigningKey,
}

/// What `setupID` prints before exiting 1.
#[derive(Debug, PartialEq, Eq)]
pub struct IdentityError(pub String);

/// Which way `load_or_create` went (for the log lines PinShare prints).
#[derive(Debug, PartialEq, Eq)]
pub enum Origin {
    Loaded,
    Generated,
}

impl Identity {
    /// Protobuf `PrivateKey{Type: Ed25519, Data: seed ‖ public}` (go-libp2p stores 64 bytes).
    pub fn marshal(&self) -> Vec<u8> {
        let mut out = vec![0x08, KEY_TYPE_ED25519, 0x12, 64];
        out.extend_from_slice(self.key.as_bytes());
        out.extend_from_slice(self.key.verifying_key().as_bytes());
        out
    }

    /// `crypto.UnmarshalPrivateKey` for Ed25519 keys.
    pub fn unmarshal(bytes: &[u8]) -> Result<Self, String> {
        let rest = match bytes {
            [0x08, t, 0x12, len, rest @ ..]
                if *t == KEY_TYPE_ED25519 && usize::from(*len) == rest.len() =>
            {
                rest
            }
            [0x08, t, ..] if *t != KEY_TYPE_ED25519 => {
                return Err("unsupported key type (the stand-in reads Ed25519 keys only)".into());
            }
            _ => return Err("proto: cannot parse invalid wire-format data".into()),
        };
        // go-libp2p accepts 64 bytes (seed ‖ public) and the legacy 96-byte form (public key repeated).
        if rest.len() != 64 && rest.len() != 96 {
            return Err(format!(
                "expected ed25519 data size to be 64 or 96, got {}",
                rest.len()
            ));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&rest[..32]);
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &rest[32..64] {
            return Err("expected ed25519 public key to match the private key".into());
        }
        Ok(Identity { key })
    }

    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        Ok(Identity {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The peer id: base58btc of the identity multihash of protobuf `PublicKey{Type: Ed25519, Data: pub}`.
    pub fn peer_id(&self) -> String {
        let mut mh = vec![0x00, 36, 0x08, KEY_TYPE_ED25519, 0x12, 32];
        mh.extend_from_slice(self.key.verifying_key().as_bytes());
        bs58::encode(mh).into_string()
    }

    /// `setupID`: read the key file, or generate and save one when it does not exist; any other read error
    /// (e.g. permission denied) is fatal.
    pub fn load_or_create(path: &Path) -> Result<(Self, Origin), IdentityError> {
        let shown = path.display();
        match std::fs::read(path) {
            Ok(bytes) => Self::unmarshal(&bytes)
                .map(|id| (id, Origin::Loaded))
                .map_err(|e| {
                    IdentityError(format!(
                        "[ERROR] Error unmarshalling private key from {shown}: {e}"
                    ))
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("[INFO] Identity file {shown} not found, generating new identity...");
                let id = Self::generate().map_err(|e| {
                    IdentityError(format!("[ERROR] Error generating private key: {e}"))
                })?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(path)
                    .and_then(|mut f| f.write_all(&id.marshal()))
                    .map_err(|e| {
                        IdentityError(format!(
                            "[ERROR] Error saving private key to {shown}: {}",
                            standin_common::goerr::path_error("open", path, &e)
                        ))
                    })?;
                Ok((id, Origin::Generated))
            }
            Err(e) => Err(IdentityError(format!(
                "[ERROR] Error reading identity file {shown}: {}",
                standin_common::goerr::path_error("open", path, &e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_look_like_libp2p_ed25519_ids() {
        let id = Identity::generate().expect("key");
        let pid = id.peer_id();
        assert!(pid.starts_with("12D3KooW"), "{pid}");
        assert_eq!(pid.len(), 52, "{pid}");
    }

    #[test]
    fn the_key_file_round_trips_in_libp2p_protobuf_form() {
        let id = Identity::generate().expect("key");
        let bytes = id.marshal();
        assert_eq!(&bytes[..4], &[0x08, 0x01, 0x12, 0x40]);
        assert_eq!(bytes.len(), 68);
        let back = Identity::unmarshal(&bytes).expect("unmarshal");
        assert_eq!(back.peer_id(), id.peer_id());
        assert!(Identity::unmarshal(b"garbage").is_err());
    }

    #[test]
    fn the_identity_is_created_once_and_then_kept() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("identity.key");
        let (first, how) = Identity::load_or_create(&path).expect("create");
        assert_eq!(how, Origin::Generated);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, how) = Identity::load_or_create(&path).expect("load");
        assert_eq!(how, Origin::Loaded);
        assert_eq!(again.peer_id(), first.peer_id());
    }
}
