//! Overlays: `-f base.toml -f overlay.toml`. Later files override earlier ones key by key, as compose does:
//! tables merge recursively, scalars and arrays replace. Each file is parsed on its own, with spans; the spans
//! of file `k` are moved by the length of the files before it, so every span of the merged document points
//! into the files laid end to end, and an error maps back to the file, line and column where it was written.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// The spans of a parsed file, moved by `by` bytes.
pub(super) fn shift<'i>(table: DeTable<'i>, by: usize) -> DeTable<'i> {
    if by == 0 {
        return table;
    }
    table
        .into_iter()
        .map(|(k, v)| {
            let key = Spanned::new(moved(k.span(), by), k.into_inner());
            (key, shift_value(v, by))
        })
        .collect()
}

fn moved(span: Range<usize>, by: usize) -> Range<usize> {
    span.start + by..span.end + by
}

fn shift_value(v: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = moved(v.span(), by);
    let value = match v.into_inner() {
        DeValue::Table(t) => DeValue::Table(shift(t, by)),
        DeValue::Array(a) => {
            let mut out = DeArray::new();
            for item in a.iter() {
                out.push(shift_value(item.clone(), by));
            }
            DeValue::Array(out)
        }
        other => other,
    };
    Spanned::new(span, value)
}

/// `over` laid on `base`: a table in both merges key by key; anything else in `over` replaces what `base` had.
/// A merged table keeps the key and the span where `base` first wrote it.
pub(super) fn merge<'i>(mut base: DeTable<'i>, over: DeTable<'i>) -> DeTable<'i> {
    for (key, value) in over {
        let merged = match base.remove(&key) {
            Some(old) => match (old.get_ref(), value.get_ref()) {
                (DeValue::Table(_), DeValue::Table(_)) => {
                    let span = old.span();
                    let (DeValue::Table(a), DeValue::Table(b)) =
                        (old.into_inner(), value.into_inner())
                    else {
                        unreachable!("both matched as tables just above")
                    };
                    Spanned::new(span, DeValue::Table(merge(a, b)))
                }
                _ => value,
            },
            None => value,
        };
        base.insert(key, merged);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DeTable<'_> {
        DeTable::parse(text).expect("valid TOML").into_inner()
    }

    fn at<'a>(t: &'a DeTable<'_>, path: &[&str]) -> &'a Spanned<DeValue<'a>> {
        let (first, rest) = path.split_first().expect("a path");
        let v = t
            .iter()
            .find(|(k, _)| k.get_ref() == first)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {first}"));
        if rest.is_empty() {
            return v;
        }
        match v.get_ref() {
            DeValue::Table(inner) => at(inner, rest),
            _ => panic!("{first} is not a table"),
        }
    }

    const BASE: &str = "[services.ipfs]\nimage = \"kubo:1\"\nports = [\"5001:5001\", \"8080:8080\"]\nenv = { A = \"1\", B = \"2\" }\n";
    const OVER: &str = "[services.ipfs]\nports = [\"5002:5001\"]\nenv = { B = \"3\", C = \"4\" }\n\n[services.app]\nimage = \"app:1\"\n";

    #[test]
    fn tables_merge_key_by_key_and_scalars_and_arrays_replace() {
        let merged = merge(parse(BASE), shift(parse(OVER), BASE.len()));
        let text = format!("{BASE}{OVER}");
        let str_at = |path: &[&str]| at(&merged, path).get_ref().as_str().map(str::to_string);
        // Kept from the base, overridden by the overlay, added by the overlay.
        assert_eq!(
            str_at(&["services", "ipfs", "image"]).as_deref(),
            Some("kubo:1")
        );
        assert_eq!(
            str_at(&["services", "ipfs", "env", "A"]).as_deref(),
            Some("1")
        );
        assert_eq!(
            str_at(&["services", "ipfs", "env", "B"]).as_deref(),
            Some("3")
        );
        assert_eq!(
            str_at(&["services", "ipfs", "env", "C"]).as_deref(),
            Some("4")
        );
        assert_eq!(
            str_at(&["services", "app", "image"]).as_deref(),
            Some("app:1")
        );
        // The array is the overlay's, whole: not appended to the base's.
        let ports = at(&merged, &["services", "ipfs", "ports"]);
        let DeValue::Array(items) = ports.get_ref() else {
            panic!("ports is an array")
        };
        let items: Vec<_> = items.iter().filter_map(|i| i.get_ref().as_str()).collect();
        assert_eq!(items, ["5002:5001"]);
        // Every span points at the text as written, in the file it came from (laid end to end).
        assert_eq!(&text[ports.span()], "[\"5002:5001\"]");
        assert!(ports.span().start >= BASE.len());
        let image = at(&merged, &["services", "ipfs", "image"]);
        assert_eq!(&text[image.span()], "\"kubo:1\"");
        let c = at(&merged, &["services", "ipfs", "env", "C"]);
        assert_eq!(&text[c.span()], "\"4\"");
    }

    #[test]
    fn a_table_replaced_by_a_scalar_and_a_scalar_by_a_table_take_the_overlay() {
        let base = "[a]\nx = 1\nt = { y = 2 }\n";
        let over = "[a]\nx = { z = 3 }\nt = \"flat\"\n";
        let merged = merge(parse(base), shift(parse(over), base.len()));
        assert!(matches!(
            at(&merged, &["a", "x"]).get_ref(),
            DeValue::Table(_)
        ));
        assert_eq!(at(&merged, &["a", "t"]).get_ref().as_str(), Some("flat"));
    }

    fn errors(files: &[(&str, &str)]) -> Vec<(String, String)> {
        let files: Vec<(&std::path::Path, &str)> = files
            .iter()
            .map(|(p, t)| (std::path::Path::new(*p), *t))
            .collect();
        let errs = super::super::validate_files(&files).expect_err("invalid");
        errs.errors
            .iter()
            .map(|e| (e.location(), e.message.clone()))
            .collect()
    }

    const VALID: &str = "[project]\nname = \"p\"\n\n[services.ipfs]\nimage = \"kubo:1\"\n\n[services.app]\nimage = \"app:1\"\ndepends_on = [\"ipfs\"]\n";

    #[test]
    fn an_error_in_the_overlay_points_into_the_overlay() {
        let over = "# the mock\n[services.app]\ndepends_on = [\"ipfss\"]\n";
        let errs = errors(&[("pinshare.toml", VALID), ("mock.toml", over)]);
        assert_eq!(
            errs,
            [(
                "mock.toml:3:15".to_string(),
                "unknown service `ipfss` in depends_on".to_string()
            )]
        );
        // An unknown key (the schema's error, found while reading the merged document) too.
        let over = "[services.ipfs]\nimgae = \"kubo:2\"\n";
        let errs = errors(&[("pinshare.toml", VALID), ("mock.toml", over)]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "mock.toml:2:1", "{errs:?}");
        // And a file that is not TOML at all.
        let errs = errors(&[("pinshare.toml", VALID), ("mock.toml", "[services\n")]);
        assert!(errs[0].0.starts_with("mock.toml:1:"), "{errs:?}");
    }

    #[test]
    fn an_error_in_the_base_still_points_into_the_base() {
        let base = VALID.replace(
            "image = \"app:1\"",
            "image = \"app:1\"\nports = [\"99999:1\"]",
        );
        let over = "[services.ipfs]\nimage = \"kubo:2\"\n";
        let errs = errors(&[("pinshare.toml", &base), ("mock.toml", over)]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "pinshare.toml:9:10", "{errs:?}");
    }

    #[test]
    fn the_overlay_overrides_the_base_in_the_validated_spec() {
        let over = "[services.ipfs]\nimage = \"kubo:mock\"\nenv = { MOCK = \"1\" }\n";
        let files = [
            (std::path::Path::new("pinshare.toml"), VALID),
            (std::path::Path::new("mock.toml"), over),
        ];
        let spec = super::super::validate_files(&files).expect("valid");
        let ipfs = &spec.services["ipfs"];
        assert_eq!(ipfs.image.reference(), "kubo:mock");
        assert_eq!(ipfs.env.get("MOCK").map(String::as_str), Some("1"));
        assert_eq!(spec.services["app"].depends_on, ["ipfs"]);
        assert_eq!(spec.overlays, [std::path::PathBuf::from("mock.toml")]);
    }
}
