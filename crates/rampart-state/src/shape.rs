//! The geometry shared by the sketches: `depth` rows of `width` counters, sized from a byte
//! budget, and where a key lands in each row.

use crate::budget::BudgetError;
use crate::hash::KeyHash;

/// Rows in every sketch: four independent guesses per key. Each extra row halves (roughly)
/// the chance that a key is overestimated, and costs one more cache miss per update.
pub const DEFAULT_DEPTH: usize = 4;

/// The smallest row worth having; below this the sketch would count everyone as one key.
pub const MIN_WIDTH: usize = 64;

/// `depth` rows of `width` cells, `width` a power of two so a key's column is the top bits of
/// a hash rather than a division.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SketchShape {
    pub depth: usize,
    pub width: usize,
    shift: u32,
}

impl SketchShape {
    /// The widest shape of `depth` rows of `cell_bytes`-sized cells that fits in `bytes`.
    /// Refuses a budget too small for [`MIN_WIDTH`] cells per row.
    pub fn from_budget(
        what: &'static str,
        bytes: usize,
        cell_bytes: usize,
        depth: usize,
    ) -> Result<SketchShape, BudgetError> {
        let depth = depth.max(1);
        let min = depth * MIN_WIDTH * cell_bytes;
        if bytes < min {
            return Err(BudgetError::TooSmall { what, bytes, min });
        }
        let cells_per_row = bytes / (depth * cell_bytes);
        // Round down to a power of two: `cells_per_row >= MIN_WIDTH > 0` here.
        let width = 1usize << (usize::BITS - 1 - cells_per_row.leading_zeros());
        Ok(SketchShape { depth, width, shift: 64 - width.trailing_zeros() })
    }

    /// Total cells.
    pub fn cells(&self) -> usize {
        self.depth * self.width
    }

    /// The cell index of `key` in each row, row-major (Kirsch–Mitzenmacher double hashing:
    /// row `i` looks at the top bits of `h + i * step`).
    #[inline]
    pub(crate) fn slots(&self, key: KeyHash) -> impl Iterator<Item = usize> + '_ {
        let (h, step) = (key.value(), key.step());
        (0..self.depth).map(move |row| {
            let mixed = h.wrapping_add((row as u64).wrapping_mul(step));
            row * self.width + (mixed >> self.shift) as usize
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_fits_budget_and_rounds_down() {
        let s = SketchShape::from_budget("t", 1 << 20, 4, 4).unwrap();
        assert_eq!(s.width, 1 << 16);
        assert!(s.cells() * 4 <= 1 << 20);
        let odd = SketchShape::from_budget("t", 100_000, 4, 4).unwrap();
        assert_eq!(odd.width, 4096); // 6250 per row, rounded down
        assert!(SketchShape::from_budget("t", 100, 4, 4).is_err());
    }

    #[test]
    fn slots_stay_in_their_rows() {
        let s = SketchShape::from_budget("t", 4096, 4, 4).unwrap();
        for k in 0..1000u64 {
            for (row, idx) in s.slots(KeyHash::of_u64(k)).enumerate() {
                assert!(idx >= row * s.width && idx < (row + 1) * s.width);
            }
        }
    }
}
