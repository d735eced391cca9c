//! CIDs the way Kubo computes them for `ipfs add` with the default chunker
//! (size-262144) and balanced layout, plus the encodings they need
//! (sha2-256, varint, base32, base58btc, base64).

pub const CHUNK_SIZE: usize = 262_144;
/// go-unixfs balanced builder: links per internal node.
pub const MAX_LINKS: usize = 174;
pub const CODEC_RAW: u64 = 0x55;
pub const CODEC_DAG_PB: u64 = 0x70;
/// The empty UnixFS directory (Kubo always has it).
pub const EMPTY_DIR_CID: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

// ------------------------------------------------------------------ sha-256

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

fn sha256_block(h: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (i, c) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for i in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        hh = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = x.wrapping_add(y);
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut chunks = data.chunks_exact(64);
    for block in &mut chunks {
        sha256_block(&mut h, block);
    }
    let rem = chunks.remainder();
    let mut tail = [0u8; 128];
    tail[..rem.len()].copy_from_slice(rem);
    tail[rem.len()] = 0x80;
    let tail_len = if rem.len() < 56 { 64 } else { 128 };
    let bits = (data.len() as u64).wrapping_mul(8);
    tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        sha256_block(&mut h, block);
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

// ---------------------------------------------------------------- encodings

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// RFC 4648 base32, lower case, no padding (multibase 'b' without the prefix).
pub fn base32_lower(data: &[u8]) -> String {
    const A: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base58btc(data: &[u8]) -> String {
    const A: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut digits: Vec<u8> = Vec::with_capacity(data.len() * 138 / 100 + 1);
    for &b in &data[zeros..] {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = String::with_capacity(zeros + digits.len());
    s.extend(std::iter::repeat_n('1', zeros));
    s.extend(digits.iter().rev().map(|&d| A[d as usize] as char));
    s
}

pub fn base64_std(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

// --------------------------------------------------------------------- CIDs

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cid {
    pub version: u8,
    pub codec: u64,
    pub digest: [u8; 32],
}

impl Cid {
    pub fn of(version: u8, codec: u64, block: &[u8]) -> Cid {
        Cid {
            version,
            codec,
            digest: sha256(block),
        }
    }
    /// Binary form (what dag-pb links store).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(36);
        if self.version == 1 {
            out.push(1);
            put_varint(&mut out, self.codec);
        }
        out.extend_from_slice(&[0x12, 0x20]);
        out.extend_from_slice(&self.digest);
        out
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.version == 0 {
            f.write_str(&base58btc(&self.to_bytes()))
        } else {
            write!(f, "b{}", base32_lower(&self.to_bytes()))
        }
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

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha256(&million_a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
        assert_eq!(base58btc(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(base58btc(&[0, 0, 1]), "112");
        assert_eq!(base64_std(b"foob"), "Zm9vYg==");
        assert_eq!(base64_std(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64_std(b"foobar"), "Zm9vYmFy");
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
    }

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
