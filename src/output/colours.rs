//! The colour of each name's prefix. Within a project the names get different colours (as long as the palette
//! lasts) and the same spec gives the same colours in every run and terminal: the names are taken in sorted
//! order, each starting at its hash's slot and moving on to the next free colour. A name the project does not
//! know (or one past the palette's size) gets its hash's colour.

use std::collections::{BTreeMap, BTreeSet};

use console::Color;

/// The colours prefixes are drawn from.
const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Red,
];

/// A colour per name, fixed when the printer is made.
#[derive(Debug, Clone, Default)]
pub struct Colours {
    assigned: BTreeMap<String, Color>,
}

impl Colours {
    /// Colours for a project's names (its services); `tool`, the tool's own name, gets a colour left over, if
    /// any.
    pub fn for_names<'a>(names: impl IntoIterator<Item = &'a str>, tool: &'a str) -> Self {
        let sorted: BTreeSet<&str> = names.into_iter().collect();
        let mut assigned = BTreeMap::new();
        let mut used = [false; PALETTE.len()];
        let tool = (!sorted.contains(tool)).then_some(tool);
        for name in sorted.into_iter().chain(tool) {
            let start = slot(name);
            let free = (0..PALETTE.len())
                .map(|i| (start + i) % PALETTE.len())
                .find(|&i| !used[i]);
            if let Some(i) = free {
                used[i] = true;
                assigned.insert(name.to_string(), PALETTE[i]);
            }
        }
        Colours { assigned }
    }

    /// The colour of `name`'s prefix.
    pub fn of(&self, name: &str) -> Color {
        self.assigned
            .get(name)
            .copied()
            .unwrap_or(PALETTE[slot(name)])
    }
}

/// The palette slot of a name's hash: FNV-1a, tiny and stable across releases (unlike std's hasher).
fn slot(name: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as usize % PALETTE.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: &str = "pinshare-dev";

    #[test]
    fn the_demos_services_get_different_colours() {
        // Both hash to red: the collision the palette's probing resolves.
        assert_eq!(slot("ipfs"), slot("pinshare"));
        let c = Colours::for_names(["pinshare", "ipfs"], TOOL);
        assert_ne!(c.of("ipfs"), c.of("pinshare"));
        assert_ne!(c.of(TOOL), c.of("ipfs"));
        assert_ne!(c.of(TOOL), c.of("pinshare"));
    }

    #[test]
    fn up_to_the_palettes_size_every_service_gets_its_own_colour() {
        let names: Vec<String> = (0..PALETTE.len()).map(|i| format!("svc{i}")).collect();
        for n in 1..=names.len() {
            let c = Colours::for_names(names[..n].iter().map(String::as_str), TOOL);
            let distinct: BTreeSet<String> = names[..n]
                .iter()
                .map(|s| format!("{:?}", c.of(s)))
                .collect();
            assert_eq!(distinct.len(), n, "{:?}", &names[..n]);
        }
    }

    #[test]
    fn the_same_names_get_the_same_colours_whatever_their_order() {
        let a = Colours::for_names(["ipfs", "pinshare", "worker"], TOOL);
        let b = Colours::for_names(["worker", "pinshare", "ipfs"], TOOL);
        for n in ["ipfs", "pinshare", "worker", TOOL, "unknown"] {
            assert_eq!(a.of(n), b.of(n), "{n}");
        }
        // Pinned: a change of palette or hash shows here, not only as a different terminal.
        assert_eq!(a.of("ipfs"), Color::Red);
        assert_eq!(a.of("pinshare"), Color::Cyan);
    }

    #[test]
    fn past_the_palette_a_name_keeps_its_hashs_colour() {
        let names: Vec<String> = (0..=PALETTE.len()).map(|i| format!("svc{i}")).collect();
        let c = Colours::for_names(names.iter().map(String::as_str), TOOL);
        let unplaced = names
            .iter()
            .find(|n| !c.assigned.contains_key(n.as_str()))
            .expect("one name more than the palette");
        assert_eq!(c.of(unplaced), PALETTE[slot(unplaced)]);
    }
}
