//! Metaplex-standard metadata JSON for one item at one stage.
//!
//! Fields (Metaplex Token Metadata JSON standard): `name`, `symbol`, `description`, `image`,
//! `external_url` (when the spec has one), `seller_fee_basis_points`, `attributes`
//! (`[{trait_type, value}]`: the item's traits in spec order, then `Stage` = the stage's
//! name), and `properties` with `files: [{uri, type: "image/png"}]`, `category: "image"` and
//! `creators: [{address, share}]`.
//!
//! Metaplex shares are whole percents summing to 100, the spec's are basis points: each
//! creator gets `share_bps / 100` rounded down, and the percents left over go, one each, to
//! the creators with the largest remainders (ties: earlier creator first). Royalties and
//! proceeds are split on chain by the exact basis points; these percents are informational.
//!
//! Our own key, `chrysalis`, carries what `chrysalis verify` needs: `recipe` (the full
//! recipe as JSON), `recipe_hash` (hex SHA-256 of its canonical JSON, as on chain), `stage`
//! (0-based), `stage_name`, `stages` (how many the collection has), `index` and `seed`; and,
//! once the collection's item table is known ([`set_item_commitment`]), `items_root` (the
//! Merkle root the program holds) and `item_proof` (this item's path to it), so that
//! `verify` can check an NFT's recipe against the commitment from this file alone.
//!
//! [`item_json_bytes`] writes the JSON with object keys sorted, compactly, so the bytes (and
//! so the IPFS CID) are the same on every machine and every run.

use serde_json::{Value, json};

use super::plan::PlannedItem;
use super::spec::{CollectionSpec, STAGE_ATTRIBUTE};
use crate::recipe::Recipe;

/// The metadata of `item` at `stage`, whose image lives at `image_uri` and was made by
/// `recipe` (for img2img stages, the recipe with its init image filled in).
pub fn item_json(spec: &CollectionSpec, item: &PlannedItem, stage: u32, image_uri: &str, recipe: &Recipe) -> Value {
    let stage_name =
        spec.stages.get(stage as usize).map(|s| s.name.clone()).unwrap_or_else(|| format!("Stage {stage}"));
    let mut attributes: Vec<Value> =
        item.traits.iter().map(|t| json!({"trait_type": t.trait_type, "value": t.value})).collect();
    attributes.push(json!({"trait_type": STAGE_ATTRIBUTE, "value": stage_name}));
    let shares = percent_shares(&spec.creators.iter().map(|c| c.share_bps).collect::<Vec<_>>());
    let creators: Vec<Value> =
        spec.creators.iter().zip(shares).map(|(c, share)| json!({"address": c.address, "share": share})).collect();
    let recipe_value = serde_json::to_value(recipe).expect("a recipe always serializes");
    let mut v = json!({
        "name": item.name,
        "symbol": spec.symbol,
        "description": spec.description,
        "image": image_uri,
        "seller_fee_basis_points": spec.royalty_bps,
        "attributes": attributes,
        "properties": {
            "files": [{"uri": image_uri, "type": "image/png"}],
            "category": "image",
            "creators": creators,
        },
        "chrysalis": {
            "recipe": recipe_value,
            "recipe_hash": recipe.hash().to_string(),
            "stage": stage,
            "stage_name": stage_name,
            "stages": spec.stages.len(),
            "index": item.index,
            "seed": item.seed,
        },
    });
    if let Some(url) = &spec.external_url {
        v["external_url"] = Value::String(url.clone());
    }
    v
}

/// Adds the item commitment to an [`item_json`] value: the collection's `items_root` and this
/// item's `item_proof` (sibling hashes from its leaf up), both lowercase hex.
pub fn set_item_commitment(item: &mut Value, items_root: &[u8; 32], proof: &[[u8; 32]]) {
    if let Some(ours) = item.get_mut("chrysalis").and_then(Value::as_object_mut) {
        ours.insert("items_root".into(), Value::String(hex::encode(items_root)));
        ours.insert("item_proof".into(), Value::Array(proof.iter().map(|h| Value::String(hex::encode(h))).collect()));
    }
}

/// [`item_json`] as deterministic bytes: keys sorted, no insignificant whitespace, UTF-8.
pub fn item_json_bytes(
    spec: &CollectionSpec,
    item: &PlannedItem,
    stage: u32,
    image_uri: &str,
    recipe: &Recipe,
) -> Vec<u8> {
    canonical_bytes(&item_json(spec, item, stage, image_uri, recipe))
}

/// The collection's own Metaplex JSON (the URI of its group mint): name, symbol,
/// description, `image` (conventionally item 0 at stage 0), royalty, creators (the same
/// percent shares as every item) and `properties.files`, so wallets and marketplaces read it
/// as they read an item. It has no traits of its own, so `attributes` is empty.
pub fn collection_json(spec: &CollectionSpec, image_uri: &str) -> Value {
    let shares = percent_shares(&spec.creators.iter().map(|c| c.share_bps).collect::<Vec<_>>());
    let creators: Vec<Value> =
        spec.creators.iter().zip(shares).map(|(c, share)| json!({"address": c.address, "share": share})).collect();
    let mut v = json!({
        "name": spec.name,
        "symbol": spec.symbol,
        "description": spec.description,
        "image": image_uri,
        "seller_fee_basis_points": spec.royalty_bps,
        "attributes": [],
        "properties": {
            "files": [{"uri": image_uri, "type": "image/png"}],
            "category": "image",
            "creators": creators,
        },
    });
    if let Some(url) = &spec.external_url {
        v["external_url"] = Value::String(url.clone());
    }
    v
}

/// Any JSON value with object keys sorted and no whitespace (the recipe's canonical form).
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    crate::recipe::write_canonical(value, &mut out);
    out.into_bytes()
}

/// Basis-point shares (summing to 10 000) as whole percents summing to 100, by largest
/// remainder (see the module docs).
pub fn percent_shares(bps: &[u32]) -> Vec<u8> {
    let mut out: Vec<u32> = bps.iter().map(|b| b / 100).collect();
    let total: u32 = out.iter().sum();
    let target: u32 = if bps.iter().sum::<u32>() == 10_000 { 100 } else { total };
    let mut order: Vec<usize> = (0..bps.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(bps[i] % 100), i));
    for &i in order.iter().take(target.saturating_sub(total) as usize) {
        out[i] += 1;
    }
    out.into_iter().map(|p| p.min(100) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_shares_sum_to_100_by_largest_remainder() {
        assert_eq!(percent_shares(&[7000, 3000]), vec![70, 30]);
        assert_eq!(percent_shares(&[3334, 3333, 3333]), vec![34, 33, 33]);
        assert_eq!(percent_shares(&[3333, 3333, 3334]), vec![33, 33, 34]);
        assert_eq!(percent_shares(&[5050, 4950]), vec![51, 49]);
        assert_eq!(percent_shares(&[10_000]), vec![100]);
    }

    /// The collection JSON has what Metaplex's standard asks of any token's JSON, as the item
    /// JSON does: `properties.files` naming the image, `attributes`, and creators whose
    /// percent shares sum to 100 (3 333/3 333/3 334 bps once came out as 33/33/33).
    #[test]
    fn collection_json_is_complete_metaplex_json() {
        let text = include_str!("../../../../assets/demo/collection.toml");
        let mut spec = crate::collection::CollectionSpec::from_toml(text).unwrap();
        spec.creators = ["A", "B", "C"]
            .iter()
            .zip([3333, 3333, 3334])
            .map(|(a, s)| crate::collection::CreatorSpec { address: a.to_string(), share_bps: s })
            .collect();
        let v = collection_json(&spec, "ipfs://bafyimages/0.png");
        assert_eq!(v["name"], spec.name.as_str());
        assert_eq!(v["image"], "ipfs://bafyimages/0.png");
        assert_eq!(v["properties"]["files"], json!([{"uri": "ipfs://bafyimages/0.png", "type": "image/png"}]));
        assert_eq!(v["properties"]["category"], "image");
        assert!(v["attributes"].is_array());
        let shares: Vec<u64> =
            v["properties"]["creators"].as_array().unwrap().iter().map(|c| c["share"].as_u64().unwrap()).collect();
        assert_eq!(shares.iter().sum::<u64>(), 100, "{shares:?}");
        assert_eq!(v["seller_fee_basis_points"], spec.royalty_bps);
    }
}
