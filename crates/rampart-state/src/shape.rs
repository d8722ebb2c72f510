//! The geometry shared by the sketches: `depth` rows of `width` counters, sized from a byte
//! budget, and where a key lands in each row.

use crate::budget::BudgetError;
use crate::hash::KeyHash;

/// Rows in every sketch: four independent guesses per key. Each extra row halves (roughly)
/// the chance that a key is overestimated, and costs one more cache miss per update.
pub const DEFAULT_DEPTH: usize = 4;

/// The smallest row worth having; below this the sketch would count everyone as one key.
pub const MIN_WIDTH: usize = 64;

/// `depth` rows of `width` cells. `width` is whatever fits the budget, not a power of two: a
/// key's column is its hash scaled into `0..width` by a multiply and a shift (Lemire's
/// "fast range"), as cheap as a mask and without wasting up to half the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SketchShape {
    pub depth: usize,
    pub width: usize,
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
        Ok(SketchShape { depth, width: bytes / (depth * cell_bytes) })
    }

    /// Total cells.
    pub fn cells(&self) -> usize {
        self.depth * self.width
    }

    /// The cell index of `key` in each row, row-major (Kirsch–Mitzenmacher double hashing:
    /// row `i` looks at `h + i * step`).
    #[inline]
    pub(crate) fn slots(&self, key: KeyHash) -> impl Iterator<Item = usize> + '_ {
        let (h, step) = (key.value(), key.step());
        (0..self.depth).map(move |row| {
            let mixed = h.wrapping_add((row as u64).wrapping_mul(step));
            // `(mixed × width) >> 64 < width`, so the cast cannot truncate.
            row * self.width + ((mixed as u128 * self.width as u128) >> 64) as usize
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_fills_the_budget() {
        let s = SketchShape::from_budget("t", 1 << 20, 4, 4).unwrap();
        assert_eq!(s.width, 1 << 16);
        let odd = SketchShape::from_budget("t", 100_003, 4, 4).unwrap();
        assert_eq!(odd.width, 6250);
        assert!(odd.cells() * 4 <= 100_003);
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
