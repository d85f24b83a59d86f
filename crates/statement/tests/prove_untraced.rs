//! Proving and key setup never hand the circuit's gadget spans to the caller's tracing
//! subscriber. ark-r1cs-std opens a span (target `gr1cs`) per gadget call with the arguments as
//! fields, and a daemon's log formats them: each holds the whole constraint system, so the
//! operator's proof ran for hours instead of seconds. Checked with a subscriber that counts
//! those spans: synthesis under it opens many (the control), `keys::prove` opens none.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use bitvm2_statement::{keys, StatementCircuit};
use common::small_circuit;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Counts the `gr1cs` spans opened under it; records nothing.
#[derive(Clone, Default)]
struct GadgetSpans(Arc<AtomicUsize>);

impl Subscriber for GadgetSpans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        if span.metadata().target() == "gr1cs" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn proving_opens_no_gadget_span_in_the_callers_subscriber() {
    let (p, w, k) = small_circuit();
    let mut rng = rand::rngs::OsRng;

    // Control: the same circuit synthesized directly under the counter opens gadget spans.
    let control = GadgetSpans::default();
    tracing::subscriber::with_default(control.clone(), || {
        let cs = ConstraintSystem::<ark_bn254::Fr>::new_ref();
        StatementCircuit { params: p.clone(), witness: Some(w.clone()) }.generate_constraints(cs.clone()).unwrap();
        assert!(cs.is_satisfied().unwrap());
    });
    let direct = control.0.load(Ordering::Relaxed);
    assert!(direct > 1_000, "the control synthesis opened only {direct} gadget spans");

    let seen = GadgetSpans::default();
    let proof = tracing::subscriber::with_default(seen.clone(), || keys::prove(&k.pk, &p, &w, &mut rng)).unwrap();
    assert_eq!(seen.0.load(Ordering::Relaxed), 0, "keys::prove opened gadget spans in the caller's subscriber");
    assert!(keys::verify_claim(&k.vk, &w.claim, &proof).unwrap(), "the proof made without spans verifies");

    let setup_seen = GadgetSpans::default();
    tracing::subscriber::with_default(setup_seen.clone(), || keys::setup(&p, &mut rng)).unwrap();
    assert_eq!(setup_seen.0.load(Ordering::Relaxed), 0, "keys::setup opened gadget spans in the caller's subscriber");
}
