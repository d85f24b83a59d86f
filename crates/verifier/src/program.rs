//! Reading committed values back from asserts and finding a wrong step for the toy program of
//! `bitvm2_txgraph::toy` (bits committed by hash locks, `v_i = v_{i-1} XOR v_{i-2}`, disprove
//! leaf `i - 2` for step `i`). The daemons run the real program ([`crate::real`]); this reader
//! is kept for small in-process experiments and its tests.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::script::Instruction;
use bitcoin::{ScriptBuf, Transaction};
use bitvm2_txgraph::DisproveScripts;

/// A committed bit as revealed on chain: its preimage and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revealed {
    /// The preimage from the assert's witness.
    pub preimage: Vec<u8>,
    /// The bit it opens.
    pub value: bool,
}

/// What went wrong reading the asserts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// Shapes differ from the graph.
    #[error("assert {k} input {j}: {detail}")]
    Shape { k: usize, j: usize, detail: String },
}

fn hashes(script: &ScriptBuf) -> Vec<[u8; 32]> {
    script
        .instructions()
        .filter_map(|i| match i {
            Ok(Instruction::PushBytes(b)) if b.len() == 32 => Some(b.as_bytes().try_into().expect("32 bytes")),
            _ => None,
        })
        .collect()
}

/// Reads every committed bit from the mined assert transactions (in order).
pub fn read_asserts(scripts: &DisproveScripts, asserts: &[Transaction]) -> Result<Vec<Revealed>, ReadError> {
    let mut out = Vec::new();
    for (k, (tx, commits)) in asserts.iter().zip(&scripts.assert_commitments).enumerate() {
        for (j, script) in commits.iter().enumerate() {
            let shape = |d: &str| ReadError::Shape { k, j, detail: d.into() };
            let w = tx.input.get(j).ok_or_else(|| shape("missing input"))?;
            let pre = w.witness.nth(0).ok_or_else(|| shape("empty witness"))?.to_vec();
            let h = sha256::Hash::hash(&pre).to_byte_array();
            let hs = hashes(script);
            let value = match hs.iter().position(|x| *x == h) {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(shape("preimage opens neither hash of the commitment")),
            };
            out.push(Revealed { preimage: pre, value });
        }
    }
    Ok(out)
}

/// The first wrong step's leaf and its witness (`[p_{i-2}, p_{i-1}, p_i]`), if any.
pub fn find_fault(values: &[Revealed]) -> Option<(usize, Vec<Vec<u8>>)> {
    // v_0 and v_1 are inputs; only steps (i >= 2) have leaves.
    (2..values.len())
        .find(|&i| values[i].value != (values[i - 1].value ^ values[i - 2].value))
        .map(|i| (i - 2, (i - 2..=i).map(|j| values[j].preimage.clone()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvm2_txgraph::toy::ToyProgram;
    use bitcoin::{TxIn, Witness};

    fn txs(p: &ToyProgram, values: &[bool]) -> Vec<Transaction> {
        p.assert_witnesses(values)
            .into_iter()
            .map(|inputs| Transaction {
                version: bitcoin::transaction::Version::TWO,
                lock_time: bitcoin::absolute::LockTime::ZERO,
                input: inputs
                    .into_iter()
                    .map(|items| TxIn { witness: Witness::from_slice(&items), ..Default::default() })
                    .collect(),
                output: vec![],
            })
            .collect()
    }

    #[test]
    fn honest_reads_back_and_has_no_fault_and_every_flip_is_found() {
        let p = ToyProgram::scaled(b"read", 3, 2);
        let honest = p.honest_values();
        let r = read_asserts(&p.disprove_scripts(), &txs(&p, &honest)).unwrap();
        assert_eq!(r.iter().map(|x| x.value).collect::<Vec<_>>(), honest);
        assert_eq!(find_fault(&r), None);
        for i in 2..honest.len() {
            let mut v = honest.clone();
            v[i] = !v[i];
            let r = read_asserts(&p.disprove_scripts(), &txs(&p, &v)).unwrap();
            let (leaf, w) = find_fault(&r).expect("fault");
            assert_eq!(leaf, p.find_wrong_leaf(&v).unwrap());
            assert_eq!(w, p.disprove_witness(&v, leaf));
        }
    }

    #[test]
    fn foreign_preimage_is_an_error() {
        let p = ToyProgram::new(b"x");
        let mut t = txs(&p, &p.honest_values());
        t[1].input[0].witness = Witness::from_slice(&[vec![1u8; 32]]);
        assert!(matches!(read_asserts(&p.disprove_scripts(), &t), Err(ReadError::Shape { k: 1, j: 0, .. })));
    }
}
