//! Writing a spec back over the `collection.toml` it was read from, keeping what the user
//! wrote: comments, key order, blank lines, quoting, inline or `[table]` form. Only the values
//! that differ are rewritten; a value the spec no longer has is removed; a value the file
//! did not have is added at the end of its table.
//!
//! The desktop app's form edits a parsed [`CollectionSpec`]; [`apply`] turns the edited
//! spec into text by editing the original document ([`toml_edit`]) rather than serializing
//! the spec afresh ([`CollectionSpec::to_toml`], which drops comments).
//!
//! "Differs" is decided on the spec's own reading of both sides, not on the text: the file's
//! `price = 0.5` and the spec's `"0.5"` are the same price, and a default the file leaves out
//! (`description`) equals the same default written out, so an edit of one field never
//! touches another. Lists (`[[creators]]`, `[[traits]]` with their `values = [...]`,
//! `[[stages]]`) are matched item by item by position: items past the end of the new list
//! are removed, new ones are appended in the form of the existing ones.

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::CollectionSpec;

/// A spec as plain TOML values, the way `collection.toml` would hold it.
type Values = toml::Table;

/// `spec` written over `original`: `original` with only the values that differ from `spec`
/// changed, removed or added, every comment and all formatting of the rest kept. When
/// `original` is not TOML at all, this is [`CollectionSpec::to_toml`].
pub fn apply(original: &str, spec: &CollectionSpec) -> String {
    let fresh_text = spec.to_toml();
    let (Ok(mut doc), Ok(fresh), Some(new)) =
        (original.parse::<DocumentMut>(), fresh_text.parse::<DocumentMut>(), values_of(spec))
    else {
        return fresh_text;
    };
    // The original read the way the spec reads it; when it is TOML but no spec (an unknown
    // key, a missing one), its plain values.
    let old = match CollectionSpec::from_toml(original) {
        Ok(read) => values_of(&read),
        Err(_) => original.parse::<Values>().ok(),
    };
    merge_table(doc.as_table_mut(), old.as_ref(), &new, fresh.as_table());
    doc.to_string()
}

fn values_of(spec: &CollectionSpec) -> Option<Values> {
    match toml::Value::try_from(spec).ok()? {
        toml::Value::Table(t) => Some(t),
        _ => None,
    }
}

/// Merges `new` into the `[table]` `orig`, whose values were `old`. `fresh` is the same
/// table as `CollectionSpec::to_toml` writes it: where added values are taken from.
fn merge_table(orig: &mut Table, old: Option<&Values>, new: &Values, fresh: &dyn TableLike) {
    remove_dropped(old, new, |key| {
        orig.remove(key);
    });
    for (key, value) in new {
        let was = old.and_then(|o| o.get(key));
        if was == Some(value) {
            continue;
        }
        let Some(fresh_item) = fresh.get(key) else { continue };
        match orig.get_mut(key) {
            Some(item) if !item.is_none() => merge_item(item, was, value, fresh_item),
            _ => {
                orig.insert(key, detached(fresh_item));
            }
        }
    }
}

/// The `{ inline = "table" }` form of [`merge_table`].
fn merge_inline(orig: &mut InlineTable, old: Option<&Values>, new: &Values, fresh: &InlineTable) {
    remove_dropped(old, new, |key| {
        // The space before `}` sits after the last value: it stays before the `}`.
        let was_last = orig.iter().last().is_some_and(|(k, _)| k == key);
        if let Some(mut removed) = orig.remove(key)
            && was_last
            && let Some((_, last)) = orig.iter_mut().last()
        {
            move_suffix(&mut removed, last);
        }
    });
    for (key, value) in new {
        let was = old.and_then(|o| o.get(key));
        if was == Some(value) {
            continue;
        }
        let Some(fresh_value) = fresh.get(key) else { continue };
        match orig.get_mut(key) {
            Some(v) => merge_value(v, was, value, fresh_value),
            None => {
                let mut v = fresh_value.clone();
                v.decor_mut().clear();
                v.decor_mut().set_prefix(" ");
                if let Some((_, last)) = orig.iter_mut().last() {
                    move_suffix(last, &mut v);
                }
                orig.insert(key, v);
            }
        }
    }
}

/// Moves what follows `from` (the space or line break before a closing `}` or `]`) to
/// after `to`, which now comes last.
fn move_suffix(from: &mut Value, to: &mut Value) {
    let suffix = from.decor().suffix().cloned();
    from.decor_mut().set_suffix("");
    match suffix {
        Some(s) => to.decor_mut().set_suffix(s),
        None => to.decor_mut().set_suffix(""),
    }
}

/// Calls `remove` with every key `old` has and `new` does not.
fn remove_dropped(old: Option<&Values>, new: &Values, mut remove: impl FnMut(&str)) {
    for key in old.into_iter().flat_map(|o| o.keys()) {
        if !new.contains_key(key) {
            remove(key);
        }
    }
}

/// Merges one value of a `[table]`, keeping the form the file gives it.
fn merge_item(item: &mut Item, old: Option<&toml::Value>, new: &toml::Value, fresh: &Item) {
    match item {
        Item::Table(t) => {
            if let (toml::Value::Table(n), Some(f)) = (new, fresh.as_table_like()) {
                return merge_table(t, old.and_then(toml::Value::as_table), n, f);
            }
        }
        Item::ArrayOfTables(a) => {
            if let toml::Value::Array(n) = new
                && n.iter().all(toml::Value::is_table)
                && let Some(f) = tables_of(fresh)
            {
                return merge_tables(a, old.and_then(toml::Value::as_array), n, &f);
            }
        }
        Item::Value(v) => {
            if let Ok(f) = fresh.clone().into_value() {
                return merge_value(v, old, new, &f);
            }
        }
        Item::None => {}
    }
    *item = detached(fresh);
}

/// Merges a `[[list]]` of tables item by item.
fn merge_tables(orig: &mut ArrayOfTables, old: Option<&Vec<toml::Value>>, new: &[toml::Value], fresh: &[Table]) {
    let keep = orig.len().min(new.len()).min(fresh.len());
    for (i, value) in new.iter().enumerate().take(keep) {
        let was = old.and_then(|o| o.get(i)).and_then(toml::Value::as_table);
        if let (Some(t), Some(n)) = (orig.get_mut(i), value.as_table()) {
            merge_table(t, was, n, &fresh[i]);
        }
    }
    while orig.len() > new.len() {
        orig.remove(orig.len() - 1);
    }
    for table in fresh.iter().skip(orig.len()) {
        let mut t = table.clone();
        clear_positions(&mut t);
        orig.push(t);
    }
}

/// Merges a value (a scalar, an inline table or an array), keeping its surroundings
/// (a comment after it stays after it).
fn merge_value(v: &mut Value, old: Option<&toml::Value>, new: &toml::Value, fresh: &Value) {
    match (&mut *v, new, fresh) {
        (Value::InlineTable(t), toml::Value::Table(n), Value::InlineTable(f)) => {
            return merge_inline(t, old.and_then(toml::Value::as_table), n, f);
        }
        (Value::Array(a), toml::Value::Array(n), Value::Array(f)) => {
            return merge_array(a, old.and_then(toml::Value::as_array), n, f);
        }
        _ => {}
    }
    let decor = v.decor().clone();
    *v = fresh.clone();
    *v.decor_mut() = decor;
}

/// Merges an inline `[...]` array item by item; new items are laid out like the last one
/// (one per line when the array is written one per line).
fn merge_array(orig: &mut Array, old: Option<&Vec<toml::Value>>, new: &[toml::Value], fresh: &Array) {
    let keep = orig.len().min(new.len()).min(fresh.len());
    for (i, value) in new.iter().enumerate().take(keep) {
        if let (Some(v), Some(f)) = (orig.get_mut(i), fresh.get(i)) {
            merge_value(v, old.and_then(|o| o.get(i)), value, f);
        }
    }
    while orig.len() > new.len() {
        let mut removed = orig.remove(orig.len() - 1);
        if let Some(last) = orig.get_mut(orig.len().wrapping_sub(1)) {
            move_suffix(&mut removed, last);
        }
    }
    // One per line when the last item is on a line of its own (its comment, which belongs to
    // the line before, is not copied); else after a space.
    let prefix = match orig.iter().last().and_then(|v| v.decor().prefix()).and_then(|p| p.as_str()) {
        Some(p) if p.contains('\n') => format!("\n{}", &p[p.rfind('\n').unwrap_or(0) + 1..]),
        _ if orig.is_empty() => String::new(),
        _ => " ".to_owned(),
    };
    for value in fresh.iter().skip(orig.len()) {
        let mut v = value.clone();
        v.decor_mut().clear();
        v.decor_mut().set_prefix(prefix.clone());
        if let Some(last) = orig.get_mut(orig.len().wrapping_sub(1)) {
            move_suffix(last, &mut v);
        }
        orig.push_formatted(v);
    }
}

/// The tables of a `[[list]]` as `to_toml` wrote it (or of an inline array of tables).
fn tables_of(item: &Item) -> Option<Vec<Table>> {
    match item {
        Item::ArrayOfTables(a) => Some(a.iter().cloned().collect()),
        Item::Value(Value::Array(a)) => a.iter().map(|v| v.as_inline_table().map(|t| t.clone().into_table())).collect(),
        _ => None,
    }
}

/// `fresh`, ready to go into another document: tables placed after their neighbours there
/// (not at the positions they had in the fresh text), values in default spacing.
fn detached(fresh: &Item) -> Item {
    let mut item = fresh.clone();
    match &mut item {
        Item::Table(t) => clear_positions(t),
        Item::ArrayOfTables(a) => a.iter_mut().for_each(clear_positions),
        Item::Value(v) => v.decor_mut().clear(),
        Item::None => {}
    }
    item
}

fn clear_positions(table: &mut Table) {
    table.set_position(None);
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => clear_positions(t),
            Item::ArrayOfTables(a) => a.iter_mut().for_each(clear_positions),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::{CreatorSpec, Growth, StageSpec, Unlock};

    const COMMENTED: &str = r#"# My moths: a header comment.
name = "Moths"   # the name people see
symbol = "MOTH"
# Twelve of them.
size = 12
seed = 7
price = 0.5 # a number, not a text
external_url = "https://example.org"

# Who is paid.
[[creators]]
address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"
share_bps = 6000 # the artist

[[creators]]
# The studio.
address = "11111111111111111111111111111111"
share_bps = 4000

[art]
engine = "procedural"
style = "growth"
width = 512
height = 512

[[traits]]
name = "Palette"
values = [
    { value = "Night", count = 6, params = { palette = 0 } }, # dark
    { value = "Kyoto", percent = 50.0, params = { palette = 2 } },
]

[[stages]]
name = "Seedling"
unlock = "mint"

# The second stage.
[[stages]]
name = "Grown"
unlock = { after_mint = "1d" } # a day later
growth = 2
"#;

    fn read(text: &str) -> CollectionSpec {
        CollectionSpec::from_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// `apply` of `change` on `original`, checked to read back as exactly the changed spec.
    fn edited(original: &str, change: impl FnOnce(&mut CollectionSpec)) -> String {
        let mut spec = read(original);
        change(&mut spec);
        let out = apply(original, &spec);
        assert_eq!(read(&out), spec, "the text reads back as the edited spec:\n{out}");
        out
    }

    fn comments(text: &str) -> Vec<&str> {
        text.lines().filter_map(|l| l.find('#').map(|i| &l[i..])).collect()
    }

    #[test]
    fn an_unchanged_spec_leaves_the_text_byte_for_byte() {
        assert_eq!(edited(COMMENTED, |_| {}), COMMENTED);
        let demo = include_str!("../../../../../assets/demo/collection.toml");
        assert_eq!(edited(demo, |_| {}), demo);
    }

    #[test]
    fn only_the_changed_values_change_and_every_comment_and_key_stays_in_place() {
        let out = edited(COMMENTED, |s| {
            s.name = "Moths II".into();
            s.size = 14;
        });
        let expected = COMMENTED
            .replace(r#"name = "Moths"   # the name"#, r#"name = "Moths II"   # the name"#)
            .replace("size = 12", "size = 14");
        assert_eq!(out, expected);
    }

    #[test]
    fn values_inside_lists_of_tables_and_inline_arrays_are_edited_in_place() {
        let out = edited(COMMENTED, |s| {
            s.creators[0].share_bps = 5000;
            s.creators[1].share_bps = 5000;
            s.traits[0].values[0].count = Some(5);
            s.traits[0].values[1].percent = Some(12.5);
            s.stages[1].unlock = Unlock::AfterMint("2d".into());
        });
        let expected = COMMENTED
            .replace("share_bps = 6000 # the artist", "share_bps = 5000 # the artist")
            .replace("share_bps = 4000", "share_bps = 5000")
            .replace(r#""Night", count = 6,"#, r#""Night", count = 5,"#)
            .replace("percent = 50.0,", "percent = 12.5,")
            .replace(r#"{ after_mint = "1d" } # a day"#, r#"{ after_mint = "2d" } # a day"#);
        assert_eq!(out, expected);
    }

    #[test]
    fn a_value_the_form_removed_is_removed_and_a_new_one_is_added() {
        let out = edited(COMMENTED, |s| {
            s.external_url = None;
            s.description = "Moths that grow.".into();
            // Count -> percent on one trait value.
            s.traits[0].values[0].count = None;
            s.traits[0].values[0].percent = Some(50.0);
            s.traits[0].values[1].params.clear();
        });
        assert!(out.contains("    { value = \"Kyoto\", percent = 50.0 },\n]"), "{out}");
        assert!(!out.contains("external_url"), "{out}");
        assert!(out.contains(r#"description = "Moths that grow.""#), "{out}");
        assert!(out.contains(r#"{ value = "Night", params = { palette = 0 }, percent = 50.0 }, # dark"#), "{out}");
        assert_eq!(comments(&out), comments(COMMENTED));
        // The new top-level key goes with the other top-level keys, before the first table.
        assert!(out.find("description").unwrap() < out.find("[[creators]]").unwrap(), "{out}");
    }

    #[test]
    fn list_items_are_appended_and_removed_in_the_list_s_own_form() {
        let out = edited(COMMENTED, |s| {
            s.creators
                .push(CreatorSpec { address: "So11111111111111111111111111111111111111112".into(), share_bps: 0 });
            s.stages.pop();
            s.traits[0].values.push(crate::collection::TraitValueSpec {
                value: "Ember".into(),
                count: Some(0),
                percent: None,
                params: [("palette".to_string(), 4.0)].into(),
                prompt: String::new(),
            });
        });
        // The third creator is a [[creators]] table after the second, before [art].
        let third = out.find("So11111111111111111111111111111111111111112").unwrap();
        assert!(out.find("share_bps = 4000").unwrap() < third && third < out.find("[art]").unwrap(), "{out}");
        assert_eq!(out.matches("[[creators]]").count(), 3);
        // The removed stage is gone with its comments; the first is untouched.
        assert_eq!(out.matches("[[stages]]").count(), 1);
        assert!(!out.contains("Grown") && !out.contains("# The second stage."), "{out}");
        assert!(out.ends_with("[[stages]]\nname = \"Seedling\"\nunlock = \"mint\"\n"), "{out}");
        // The new trait value is one more line of the inline array.
        assert!(
            out.contains(
                "    { value = \"Kyoto\", percent = 50.0, params = { palette = 2 } },\n    { value = \"Ember\", count = 0, params = { palette = 4.0 } },\n]"
            ),
            "{out}"
        );
        assert!(out.contains("}, # dark\n"), "{out}");
    }

    #[test]
    fn the_last_item_of_a_one_line_array_keeps_the_closing_bracket_in_place() {
        let original = COMMENTED.replace(
            "values = [\n    { value = \"Night\", count = 6, params = { palette = 0 } }, # dark\n    { value = \"Kyoto\", percent = 50.0, params = { palette = 2 } },\n]",
            "values = [ { value = \"Night\", count = 6 }, { value = \"Kyoto\", count = 6 } ]",
        );
        let out = edited(&original, |s| {
            s.traits[0].values.pop();
        });
        assert!(out.contains("values = [ { value = \"Night\", count = 6 } ]\n"), "{out}");
        let out = edited(&out, |s| {
            s.traits[0].values[0].count = Some(4);
            s.traits[0].values.push(crate::collection::TraitValueSpec {
                value: "Kyoto".into(),
                count: None,
                percent: None,
                params: Default::default(),
                prompt: String::new(),
            });
        });
        assert!(out.contains("values = [ { value = \"Night\", count = 4 }, { value = \"Kyoto\" } ]\n"), "{out}");
    }

    #[test]
    fn a_stage_added_after_the_last_one_is_a_new_stages_table_at_the_end() {
        let out = edited(COMMENTED, |s| {
            s.stages.push(StageSpec {
                name: "Blossom".into(),
                unlock: Unlock::Creator,
                growth: Some(Growth::Stage(4)),
            });
        });
        assert!(out.starts_with(COMMENTED), "the rest is kept as it was:\n{out}");
        assert!(out.ends_with("[[stages]]\nname = \"Blossom\"\nunlock = \"creator\"\ngrowth = 4\n"), "{out}");
    }

    #[test]
    fn the_form_of_every_table_is_kept() {
        // Creators inline, art as dotted keys: edits stay in that form.
        let original = r#"name = "Moths"
symbol = "MOTH"
size = 2
seed = 1
creators = [{ address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf", share_bps = 10000 }]
art.engine = "procedural"
art.style = "growth" # dotted
art.width = 256
art.height = 256
stages = [{ name = "Only", unlock = "mint" }]
"#;
        let out = edited(original, |s| {
            s.creators[0].share_bps = 9000;
            if let crate::collection::ArtSpec::Procedural(p) = &mut s.art {
                p.width = 300;
            }
        });
        assert_eq!(
            out,
            original.replace("share_bps = 10000", "share_bps = 9000").replace("art.width = 256", "art.width = 300")
        );
    }

    #[test]
    fn the_shipped_collections_keep_every_comment() {
        for original in [
            include_str!("../../../../../assets/demo/collection.toml"),
            include_str!("../../../../../assets/collection.example.toml"),
        ] {
            let spec = read(original);
            let out = edited(original, |s| {
                s.name = format!("{} II", spec.name);
                s.royalty_bps += 1;
            });
            assert_eq!(comments(&out), comments(original));
            assert_eq!(out.lines().count(), original.lines().count(), "{out}");
        }
    }

    #[test]
    fn text_that_is_not_toml_is_replaced_by_the_spec() {
        let spec = read(COMMENTED);
        assert_eq!(apply("name = = broken", &spec), spec.to_toml());
        assert_eq!(spec.to_toml_over("name = = broken"), spec.to_toml());
    }
}
