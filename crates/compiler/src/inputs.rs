//! Model inputs → program bindings.
//!
//! Every input binds as the model declares it except ragged embedding bags: PyTorch's
//! `EmbeddingBag(ids: [n], offsets: [batch])` has a run-time length `n`, and its last bag ends at
//! the end of `ids`. A program's bindings have fixed sizes, so the compiler binds the id list as
//! `i32[capacity]` (ids first, the tail unused) and the offsets as `i32[batch + 1]` (the bag
//! starts, then `n`), which is what the gather instruction reads (`docs/isa.md`). The host packs
//! its inputs into that form here; more ids than the capacity is an error naming the input.

use std::collections::BTreeMap;

use seedchip_ref::Tensor;

use crate::{Compiled, Error};

/// A ragged index input and the offsets input of the same bags, as bound by a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaggedBinding {
    /// Name of the id list input (`i64[?]` in the model, `i32[capacity]` in the program).
    pub ids: String,
    /// Name of the offsets input (`i64[batch]` in the model, `i32[batch + 1]` in the program).
    pub offsets: String,
    /// Most ids the program accepts per run.
    pub capacity: u64,
}

/// Checks ragged ids and offsets as PyTorch's `EmbeddingBag` takes them (offsets start at 0,
/// never decrease and stay within the id list) and packs them for the program: the ids padded
/// with zeros to `capacity`, the offsets followed by the number of ids.
///
/// # Errors
/// A message naming the offending element (the caller names the input).
pub fn pack_ragged(
    ids: &[i64],
    offsets: &[i64],
    batch: u64,
    capacity: u64,
) -> Result<(Vec<i64>, Vec<i64>), String> {
    let n = ids.len() as u64;
    if n > capacity {
        return Err(format!(
            "{n} ids, more than the {capacity} the program was compiled for (compile with a \
             larger ragged-id capacity)"
        ));
    }
    if offsets.len() as u64 != batch {
        return Err(format!(
            "{} offsets for a batch of {batch} (one bag start per sample)",
            offsets.len()
        ));
    }
    if let Some(&first) = offsets.first()
        && first != 0
    {
        return Err(format!("offsets[0] must be 0, got {first}"));
    }
    let mut prev = 0i64;
    for (i, &o) in offsets.iter().enumerate() {
        if o < prev || o as u64 > n {
            return Err(format!(
                "offsets[{i}] is {o}: offsets must be non-decreasing and within 0..={n} (the \
                 number of ids)"
            ));
        }
        prev = o;
    }
    let mut ids = ids.to_vec();
    ids.resize(capacity as usize, 0);
    let mut offsets = offsets.to_vec();
    offsets.push(n as i64);
    Ok((ids, offsets))
}

impl Compiled {
    /// The program's ragged bindings (empty for fixed-hotness models).
    pub fn ragged(&self) -> &[RaggedBinding] {
        &self.ragged
    }

    /// Model inputs (by model input name) → what to write into the program's bindings: ragged
    /// pairs packed (see [`pack_ragged`]), everything else as given.
    ///
    /// # Errors
    /// [`Error::Input`] for a missing ragged input, a float one, or one [`pack_ragged`] rejects.
    pub fn program_inputs(
        &self,
        feeds: &BTreeMap<String, Tensor>,
    ) -> Result<BTreeMap<String, Tensor>, Error> {
        let ints = |name: &str| -> Result<Vec<i64>, Error> {
            let t = feeds.get(name).ok_or_else(|| Error::Input {
                name: name.to_string(),
                message: "not given".into(),
            })?;
            Ok(t.indices()
                .ok_or_else(|| Error::Input {
                    name: name.to_string(),
                    message: "ragged ids and offsets must be integer tensors".into(),
                })?
                .into_owned())
        };
        let mut ragged = BTreeMap::new();
        for r in &self.ragged {
            ragged.insert(r.ids.clone(), ints(&r.ids)?);
            ragged.insert(r.offsets.clone(), ints(&r.offsets)?);
        }
        let packed = self.program_int_inputs(&ragged)?;
        let mut out: BTreeMap<String, Tensor> = feeds
            .iter()
            .filter(|(k, _)| !packed.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in packed {
            let shape = vec![v.len()];
            out.insert(k, Tensor::from_i64(shape, v).expect("1-D"));
        }
        Ok(out)
    }

    /// Like [`Self::program_inputs`] for integer inputs given as flat lists (the timing model's
    /// form): ragged pairs packed, the rest unchanged.
    ///
    /// # Errors
    /// As [`Self::program_inputs`].
    pub fn program_int_inputs(
        &self,
        ints: &BTreeMap<String, Vec<i64>>,
    ) -> Result<BTreeMap<String, Vec<i64>>, Error> {
        let mut out = ints.clone();
        let batch = u64::from(self.program.target.batch);
        for r in &self.ragged {
            let get = |name: &str| {
                ints.get(name).ok_or_else(|| Error::Input {
                    name: name.to_string(),
                    message: "not given".into(),
                })
            };
            let (ids, offsets) = (get(&r.ids)?, get(&r.offsets)?);
            let (ids, offsets) =
                pack_ragged(ids, offsets, batch, r.capacity).map_err(|message| Error::Input {
                    name: format!("{} / {}", r.ids, r.offsets),
                    message,
                })?;
            out.insert(r.ids.clone(), ids);
            out.insert(r.offsets.clone(), offsets);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_checks() {
        let (i, o) = pack_ragged(&[5, 6, 7], &[0, 0, 2], 3, 6).unwrap();
        assert_eq!(i, vec![5, 6, 7, 0, 0, 0]);
        assert_eq!(o, vec![0, 0, 2, 3]);
        assert!(
            pack_ragged(&[1; 7], &[0, 1, 2], 3, 6)
                .unwrap_err()
                .contains("7 ids")
        );
        assert!(
            pack_ragged(&[1], &[0, 1], 3, 6)
                .unwrap_err()
                .contains("2 offsets")
        );
        assert!(
            pack_ragged(&[1], &[1, 1, 1], 3, 6)
                .unwrap_err()
                .contains("offsets[0]")
        );
        assert!(
            pack_ragged(&[1, 2], &[0, 2, 1], 3, 6)
                .unwrap_err()
                .contains("offsets[2]")
        );
        assert!(
            pack_ragged(&[1, 2], &[0, 1, 3], 3, 6)
                .unwrap_err()
                .contains("offsets[2]")
        );
    }
}
