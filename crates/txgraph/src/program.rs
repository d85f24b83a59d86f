//! Fitting a chunked program of `crates/disprove` to this graph.
//!
//! The graph itself takes any program as plain data ([`DisproveScripts`]); this module says what
//! the graph adds around that data, in the chunker's and the assert packer's terms, so that every
//! leaf's Disprove spend and every assert transaction the graph builds stays standard.

use bitvm2_disprove::chunk::ChunkLimits;
use bitvm2_disprove::layout::AssertShape;
use bitvm2_disprove::setup::Disprove;

use crate::graph::budget;
use crate::params::DisproveScripts;

/// Chunk limits for disprove leaves spent by this graph's Disprove transaction: the leaves are
/// bare (no signature), the Disprove around them weighs [`budget::DISPROVE_BASE_WEIGHT`], and
/// the assert connector holds one more leaf (Take2's).
pub fn chunk_limits() -> ChunkLimits {
    ChunkLimits {
        max_spend_weight: budget::STANDARD_MAX_WEIGHT - 8,
        spend_base_weight: budget::DISPROVE_BASE_WEIGHT,
        other_leaves: 1,
        ..ChunkLimits::default()
    }
}

/// Assert transactions as the graph builds them: version 2 up to the standard weight (minus
/// room for the CPFP child), each input wrapped with the operator's signature check.
pub fn assert_shape() -> AssertShape {
    AssertShape {
        max_tx_weight: budget::STANDARD_MAX_WEIGHT - budget::ASSERT_PACKAGE_MARGIN,
        reserved_items: budget::ASSERT_INPUT_EXTRA_ITEMS,
        reserved_script_bytes: budget::ASSERT_INPUT_EXTRA_SCRIPT_BYTES + 1,
        reserved_witness_bytes: budget::ASSERT_INPUT_EXTRA_WITNESS_BYTES,
        control_block_len: budget::ASSERT_INPUT_CONTROL_BLOCK,
        base_weight: budget::ASSERT_TX_BASE_WEIGHT,
        ..AssertShape::default()
    }
}

/// The program's commitment scripts and leaves as the graph takes them.
pub fn disprove_scripts(d: &Disprove) -> DisproveScripts {
    let gd = d.graph_data();
    DisproveScripts {
        assert_commitments: gd
            .assert_txs
            .iter()
            .map(|tx| tx.iter().map(|i| i.script.clone()).collect())
            .collect(),
        disprove_leaves: gd.disprove_leaf_hashes,
    }
}
