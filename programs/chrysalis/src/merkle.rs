//! The item commitment: one Merkle root over every index's recipe hash, fixed on chain
//! (`commit_items`) before the first mint.
//!
//! Without it, `mint_nft`'s caller would choose the recipe hash written into an NFT: a
//! front-runner could mint index 7 with a made-up recipe (or index 3's), the NFT would fail
//! `verify` forever, and the index could never be minted again. With it, `mint_nft` takes the
//! recipe hash *and* a proof that `(index, recipe hash)` is a leaf of the committed tree, and
//! writes only what the proof covers.
//!
//! The tree, exactly (clients build it with [`ItemTree`], the program checks with [`verify`]):
//! - leaf(i) = SHA-256(`0x00` ‖ i as u32 little-endian ‖ recipe_hash(i)), for i in 0..max_supply;
//! - node(a, b) = SHA-256(`0x01` ‖ min(a, b) ‖ max(a, b)): pairs are sorted, so a proof is
//!   just the sibling hashes from leaf to root, with no left/right flags;
//! - on a level with an odd count, the last node moves up unchanged.
//!
//! The `0x00`/`0x01` prefixes keep a leaf from ever passing for an inner node (the classic
//! second-preimage trick), and every leaf names its own index, so sorting pairs cannot let
//! a proof for index 3 pass as one for index 7. A proof has ⌈log₂ max_supply⌉ hashes at most:
//! 14 (448 bytes) for 10 000 items.

use solana_sha256_hasher::hashv;

/// A 32-byte SHA-256 digest.
pub type Digest = [u8; 32];

const LEAF: &[u8] = &[0];
const NODE: &[u8] = &[1];

/// The leaf of item `index` whose stage-0 recipe hashes to `recipe_hash`.
pub fn item_leaf(index: u32, recipe_hash: &Digest) -> Digest {
    hashv(&[LEAF, &index.to_le_bytes(), recipe_hash]).to_bytes()
}

/// The parent of two nodes (order-independent).
pub fn node(a: &Digest, b: &Digest) -> Digest {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    hashv(&[NODE, lo, hi]).to_bytes()
}

/// Whether `proof` leads from `leaf` to `root`.
pub fn verify(root: &Digest, leaf: Digest, proof: &[Digest]) -> bool {
    proof.iter().fold(leaf, |acc, sibling| node(&acc, sibling)) == *root
}

/// The whole tree, for clients: its root and any item's proof.
#[cfg(not(target_os = "solana"))]
#[derive(Clone, Debug)]
pub struct ItemTree {
    /// `levels[0]` are the leaves, the last level is the root alone.
    levels: Vec<Vec<Digest>>,
}

#[cfg(not(target_os = "solana"))]
impl ItemTree {
    /// The tree over `recipe_hashes[i]` for every index i. `None` for no items.
    pub fn new(recipe_hashes: &[Digest]) -> Option<Self> {
        if recipe_hashes.is_empty() {
            return None;
        }
        let leaves: Vec<Digest> = recipe_hashes.iter().enumerate().map(|(i, h)| item_leaf(i as u32, h)).collect();
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = levels.last().expect("at least one level");
            let above = below.chunks(2).map(|p| if p.len() == 2 { node(&p[0], &p[1]) } else { p[0] }).collect();
            levels.push(above);
        }
        Some(Self { levels })
    }

    /// The committed root.
    pub fn root(&self) -> Digest {
        self.levels.last().expect("at least one level")[0]
    }

    /// How many items the tree covers.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Always false: a tree has at least one item.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The proof of item `index` (sibling hashes from its leaf up), or `None` out of range.
    pub fn proof(&self, index: u32) -> Option<Vec<Digest>> {
        let mut i = usize::try_from(index).ok()?;
        if i >= self.len() {
            return None;
        }
        let mut proof = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(i ^ 1) {
                proof.push(*sibling);
            }
            i /= 2;
        }
        Some(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: u32) -> Vec<Digest> {
        (0..n).map(|i| hashv(&[b"recipe", &i.to_le_bytes()]).to_bytes()).collect()
    }

    #[test]
    fn every_proof_verifies_for_every_size() {
        for n in 1..=33u32 {
            let h = hashes(n);
            let tree = ItemTree::new(&h).unwrap();
            for i in 0..n {
                let proof = tree.proof(i).unwrap();
                assert!(proof.len() <= 32 - (n - 1).leading_zeros() as usize, "n={n}: proof of {i} too long");
                assert!(verify(&tree.root(), item_leaf(i, &h[i as usize]), &proof), "n={n} i={i}");
            }
            assert!(tree.proof(n).is_none());
        }
    }

    #[test]
    fn a_proof_binds_its_index_and_its_recipe() {
        let h = hashes(10);
        let tree = ItemTree::new(&h).unwrap();
        let root = tree.root();
        let p3 = tree.proof(3).unwrap();
        // Another index's recipe, another index with this proof, a made-up recipe: all refused.
        assert!(!verify(&root, item_leaf(3, &h[4]), &p3));
        assert!(!verify(&root, item_leaf(4, &h[3]), &p3));
        assert!(!verify(&root, item_leaf(3, &[7; 32]), &p3));
        // A truncated or extended proof.
        assert!(!verify(&root, item_leaf(3, &h[3]), &p3[..p3.len() - 1]));
        let mut longer = p3.clone();
        longer.push([0; 32]);
        assert!(!verify(&root, item_leaf(3, &h[3]), &longer));
    }

    #[test]
    fn the_root_is_the_documented_construction() {
        // Three leaves: node(node(l0, l1), l2) — the odd last leaf moves up unchanged.
        let h = hashes(3);
        let l: Vec<Digest> = (0..3).map(|i| item_leaf(i, &h[i as usize])).collect();
        assert_eq!(ItemTree::new(&h).unwrap().root(), node(&node(&l[0], &l[1]), &l[2]));
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&h[2]);
        assert_eq!(l[2], hashv(&[&bytes]).to_bytes());
    }
}
