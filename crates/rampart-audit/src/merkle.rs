//! The RFC 6962 Merkle tree: leaf and node hashing, the compact frontier the writer keeps in
//! memory, and tree heads of any size computed from a run of leaf hashes.
//!
//! Hashing is exactly RFC 6962 §2.1 (RFC 9162 §2.1.1): a leaf is `SHA-256(0x00 || bytes)`, an
//! interior node `SHA-256(0x01 || left || right)`, the empty tree `SHA-256("")`. For `n > 1`
//! leaves the left subtree holds the largest power of two smaller than `n`.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, a node hash or a tree head.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of one record's bytes as a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The head of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): the size of the left subtree.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The tree head `MTH(D[0:n])` of a run of leaf hashes.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The tree as the roots of its perfect subtrees, largest (leftmost) first: `O(log n)` hashes
/// that are enough to append a leaf and to compute the head, never a proof.
///
/// For `n` leaves there is one subtree per set bit of `n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier from its parts: `subtrees` must hold one hash per set bit of `size`.
    pub fn from_parts(size: u64, subtrees: Vec<Hash>) -> Option<Frontier> {
        (subtrees.len() as u32 == size.count_ones()).then_some(Frontier { size, subtrees })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, largest (leftmost) first.
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }

    /// The perfect subtrees as `(first leaf, end, root)` ranges.
    pub fn ranges(&self) -> Vec<(u64, u64, Hash)> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.subtrees.len());
        let mut bits = (0..64).rev().filter(|b| self.size & (1 << b) != 0);
        for h in &self.subtrees {
            let b = bits.next().expect("a set bit per subtree");
            out.push((start, start + (1 << b), *h));
            start += 1 << b;
        }
        out
    }

    /// Append a leaf hash, merging the perfect subtrees it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        // Each trailing one bit of the old size is a subtree of the new leaf's height to merge.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            let left = self.subtrees.pop().expect("a subtree per set bit");
            node = node_hash(&left, &node);
            merges -= 1;
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    /// The tree head of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.subtrees.iter().rev();
        let Some(last) = it.next() else { return empty_root() };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Lower-case hex of a hash, for messages.
pub fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }

    #[test]
    fn frontier_root_equals_recursive_root_for_every_size() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for n in 1..=leaves.len() {
            f.push(leaves[n - 1]);
            assert_eq!(f.root(), root_of(&leaves[..n]), "size {n}");
            assert_eq!(f.subtrees.len() as u32, (n as u64).count_ones());
        }
    }
}
