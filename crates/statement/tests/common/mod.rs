//! Shared by the statement's integration tests: the smallest circuit that holds the synthetic
//! payout (1 header, k = 1, Merkle depth 1, 1 input), its witness and its Groth16 keys, cached
//! by content hash under the test target folder so the tests set them up once between them.

use bitvm2_statement::{fixture, keys, StatementKeys, StatementParams, StatementWitness};

/// The small parameters, the synthetic payout's witness and the keys (loaded, or set up once).
pub fn small_circuit() -> (StatementParams, StatementWitness, StatementKeys) {
    let p = StatementParams { num_headers: 1, min_confirmations: 1, merkle_depth: 1, max_inputs: 1, ..StatementParams::regtest() };
    let (w, _, _) = fixture::synthetic(&p);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("statement-keys");
    let (k, _) = keys::load_or_setup(&dir, &p, &mut rand::rngs::OsRng).unwrap();
    (p, w, k)
}
