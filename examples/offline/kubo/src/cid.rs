//! CIDs the way Kubo computes them for `ipfs add` with the default chunker
//! (size-262144) and balanced layout: the dag-pb and UnixFS nodes are built here (a few
//! protobuf fields), the CIDs, multihashes and their encodings come from the multiformats
//! crates (cid, multihash) and sha2.

pub const CHUNK_SIZE: usize = 262_144;
/// go-unixfs balanced builder: links per internal node.
pub const MAX_LINKS: usize = 174;
pub const CODEC_RAW: u64 = 0x55;
pub const CODEC_DAG_PB: u64 = 0x70;
/// The empty UnixFS directory (Kubo always has it).
pub const EMPTY_DIR_CID: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

/// sha2-256 in the multihash table.
const SHA2_256: u64 = 0x12;

/// A uvarint (multiformats unsigned-varint, as protobuf and CIDs use it).
fn put_varint(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(unsigned_varint::encode::u64(
        v,
        &mut unsigned_varint::encode::u64_buffer(),
    ));
}

/// base58btc, as peer IDs and CIDv0 strings use it.
pub fn base58btc(data: &[u8]) -> String {
    bs58::encode(data).into_string()
}

/// Standard padded base64 (Go's `base64.StdEncoding`, as the config's keys use it).
pub fn base64_std(data: &[u8]) -> String {
    data_encoding::BASE64.encode(data)
}

// --------------------------------------------------------------------- CIDs

/// A CID over the sha2-256 of a block: v0 (dag-pb, base58btc) or v1 (any codec, base32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cid(cid::Cid);

impl Cid {
    pub fn of(version: u8, codec: u64, block: &[u8]) -> Cid {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(block);
        let mh = cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest)
            .expect("a 32-byte digest fits a 64-byte multihash");
        Cid(match (version, codec) {
            (0, CODEC_DAG_PB) => cid::Cid::new_v0(mh).expect("sha2-256 is a CIDv0 multihash"),
            _ => cid::Cid::new_v1(codec, mh),
        })
    }
    /// Binary form (what dag-pb links store).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // CIDv0 prints base58btc, CIDv1 base32 lower case with its multibase prefix 'b' (Kubo's
        // defaults for both).
        self.0.fmt(f)
    }
}

/// Accepts what looks like a CID string (or /ipfs/<cid>[/...]) and returns the
/// bare CID. Only [A-Za-z0-9] are allowed, so it is safe as a file name.
pub fn normalize_cid_arg(arg: &str) -> Option<String> {
    let s = arg.trim();
    let s = s.strip_prefix("/ipfs/").unwrap_or(s);
    let s = s.split('/').next().unwrap_or("");
    let ok = s.len() >= 10 && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let ok = ok && (s.starts_with("Qm") || s.starts_with('b') || s.starts_with('z'));
    ok.then(|| s.to_string())
}

// ------------------------------------------------------------ dag-pb / unixfs

fn put_bytes_field(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(out, field << 3);
    put_varint(out, v);
}

/// UnixFS `Data` message of type File.
fn unixfs_file(data: Option<&[u8]>, filesize: u64, blocksizes: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint_field(&mut out, 1, 2); // Type = File
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        put_bytes_field(&mut out, 2, d);
    }
    put_varint_field(&mut out, 3, filesize);
    for &b in blocksizes {
        put_varint_field(&mut out, 4, b);
    }
    out
}

pub struct PbLink {
    pub cid: Cid,
    pub tsize: u64,
}

/// dag-pb PBNode in canonical order: Links (field 2) before Data (field 1).
pub fn pb_node(links: &[PbLink], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in links {
        let mut lb = Vec::new();
        put_bytes_field(&mut lb, 1, &l.cid.to_bytes());
        put_bytes_field(&mut lb, 2, b""); // Name "" (go-merkledag always sets it)
        put_varint_field(&mut lb, 3, l.tsize);
        put_bytes_field(&mut out, 2, &lb);
    }
    put_bytes_field(&mut out, 1, data);
    out
}

/// A block to store plus the result `ipfs add` reports.
pub struct Added {
    pub cid: Cid,
    /// Cumulative DAG size (the "Size" string of `ipfs add`).
    pub size: u64,
}

/// Computes the root CID Kubo's `ipfs add` gives for `data` (default chunker,
/// balanced layout). Returns an error for layouts this stand-in does not model.
pub fn add_cid(data: &[u8], cid_version: u8, raw_leaves: bool) -> Result<Added, String> {
    let leaf = |chunk: &[u8]| -> Added {
        if raw_leaves {
            // Raw leaves are always CIDv1 (a CIDv0 can only name dag-pb).
            Added {
                cid: Cid::of(1, CODEC_RAW, chunk),
                size: chunk.len() as u64,
            }
        } else {
            let node = pb_node(&[], &unixfs_file(Some(chunk), chunk.len() as u64, &[]));
            Added {
                cid: Cid::of(cid_version, CODEC_DAG_PB, &node),
                size: node.len() as u64,
            }
        }
    };
    if data.len() <= CHUNK_SIZE {
        return Ok(leaf(data));
    }
    let chunks: Vec<&[u8]> = data.chunks(CHUNK_SIZE).collect();
    if chunks.len() > MAX_LINKS {
        return Err(format!(
            "kubo stand-in: files larger than {} bytes (more than {MAX_LINKS} chunks) are not supported",
            CHUNK_SIZE * MAX_LINKS
        ));
    }
    let mut links = Vec::with_capacity(chunks.len());
    let mut total = 0u64;
    for c in &chunks {
        let a = leaf(c);
        total += a.size;
        links.push(PbLink {
            cid: a.cid,
            tsize: a.size,
        });
    }
    let sizes: Vec<u64> = chunks.iter().map(|c| c.len() as u64).collect();
    let root = pb_node(&links, &unixfs_file(None, data.len() as u64, &sizes));
    Ok(Added {
        cid: Cid::of(cid_version, CODEC_DAG_PB, &root),
        size: root.len() as u64 + total,
    })
}

/// The empty directory node (dag-pb, UnixFS Directory).
#[cfg(test)]
pub fn empty_dir_node() -> Vec<u8> {
    pb_node(&[], &[0x08, 0x01])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_world_cidv1_raw_matches_kubo() {
        // `ipfs add --cid-version=1 --raw-leaves` of the 11 bytes "hello world" (no newline).
        let a = add_cid(b"hello world", 1, true).unwrap();
        assert_eq!(
            a.cid.to_string(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
        assert_eq!(a.size, 11);
        // ... and of "hello world\n" (12 bytes, what `echo hello world` writes).
        let a = add_cid(b"hello world\n", 1, true).unwrap();
        assert_eq!(
            a.cid.to_string(),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        );
        assert_eq!(a.size, 12);
        // raw leaves with CIDv0 requested: a raw block can only be named by a CIDv1
        assert_eq!(
            add_cid(b"hello world", 0, true).unwrap().cid.to_string(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
    }

    #[test]
    fn hello_world_cidv0_matches_kubo() {
        // `echo "hello world" | ipfs add` (Kubo defaults) -> QmT78zSu...
        let a = add_cid(b"hello world\n", 0, false).unwrap();
        assert_eq!(
            a.cid.to_string(),
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        );
        assert_eq!(a.size, 20);
    }

    #[test]
    fn empty_file_and_empty_dir_match_kubo() {
        assert_eq!(
            add_cid(b"", 0, false).unwrap().cid.to_string(),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            Cid::of(0, CODEC_DAG_PB, &empty_dir_node()).to_string(),
            EMPTY_DIR_CID
        );
    }

    #[test]
    fn multi_chunk_layout_is_a_single_level() {
        let data = vec![1u8; CHUNK_SIZE * 2 + 5];
        let a = add_cid(&data, 1, true).unwrap();
        assert!(a.cid.to_string().starts_with("bafybei"), "{}", a.cid);
        assert!(a.size > data.len() as u64);
        assert!(add_cid(&vec![0u8; CHUNK_SIZE * (MAX_LINKS + 1)], 1, true).is_err());
    }

    #[test]
    fn cid_args() {
        assert_eq!(
            normalize_cid_arg(&format!("/ipfs/{EMPTY_DIR_CID}/a")).as_deref(),
            Some(EMPTY_DIR_CID)
        );
        assert_eq!(normalize_cid_arg("../config"), None);
        assert_eq!(normalize_cid_arg("bafkrei/../../x").as_deref(), None);
    }
}
