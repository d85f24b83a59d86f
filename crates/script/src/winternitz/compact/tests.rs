use super::*;
use crate::arith::{nibbles_to_limbs, Layout, Nat};
use crate::builder::check_effect;
use crate::exec::{execute, execute_with, ExecContext, ExecErrorKind, ExecOptions, ExecReport};
use crate::winternitz::{verify_script as old_verify_script, SecretKey};
use bitcoin::hashes::{hash160, Hash};
use proptest::prelude::*;

fn key(params: Params, domain: &[u8]) -> SecretKey {
    SecretKey::derive(&[42u8; 32], domain, params)
}

fn run(f: &Fragment, w: &[Vec<u8>]) -> ExecReport {
    execute(&f.to_script(), w, &ExecOptions::default())
}

/// Verify, then require the packed items left on the stack to be exactly (byte for byte, so
/// minimally encoded) `expected`, most significant deepest.
fn with_output_check(f: &Fragment, expected: &[u32]) -> Fragment {
    let mut g = f.clone();
    for x in expected.iter().rev() {
        g = g.push_int(*x as i64).op(OP_EQUALVERIFY);
    }
    g.push_int(1)
}

/// Oracle for the limbs: `arith::Layout` on the message read as a big-endian integer.
fn layout_limbs(msg: &[u8], limb_bits: u32) -> Vec<u32> {
    let layout = Layout::new(8 * msg.len() as u32, limb_bits);
    layout.to_limbs(&Nat::from_be_bytes(msg)).into_iter().rev().collect()
}

fn fail_kind(f: &Fragment, w: &[Vec<u8>]) -> ExecErrorKind {
    run(&f.clone().push_int(1), w).outcome.expect_err("must fail").kind
}

struct Case {
    packing: Packing,
    sk: SecretKey,
    pk: PublicKey,
}

fn case(w: u32, len: usize, limb_bits: u32) -> Case {
    let params = Params::new(w, len).unwrap();
    let packing = Packing::limbs(params, limb_bits).unwrap();
    let sk = key(params, b"compact");
    let pk = sk.public_key();
    Case { packing, sk, pk }
}

impl Case {
    fn keep(&self) -> Fragment {
        verify_script(&self.packing, &self.pk).unwrap()
    }
    fn drop(&self) -> Fragment {
        verify_script_drop(&self.packing, &self.pk).unwrap()
    }
    fn witness(&self, msg: &[u8]) -> Vec<Vec<u8>> {
        self.packing.to_witness(&self.sk.sign(msg).unwrap()).unwrap()
    }
    /// Index (bottom first) of a slot in the witness.
    fn index_of(&self, slot: WitnessSlot) -> usize {
        let order = self.packing.consumption_order();
        order.len() - 1 - order.iter().position(|s| *s == slot).unwrap()
    }
    fn assert_ok(&self, msg: &[u8]) {
        let w = self.witness(msg);
        let expected = self.packing.pack(msg).unwrap();
        let r = run(&with_output_check(&self.keep(), &expected), &w);
        assert!(r.success(), "{:?} msg {}: {:?}", self.packing.widths(), hex::encode(msg), r.verdict());
        assert!(run(&self.drop().push_int(1), &w).success());
    }
}

#[test]
fn limb_packing_is_the_layout_of_arith() {
    let p32 = Params::new(4, 32).unwrap();
    let mut want = vec![24];
    want.extend([29; 8]);
    assert_eq!(Packing::limbs(p32, 29).unwrap().widths(), &want[..]);
    let p20 = Params::new(4, 20).unwrap();
    let mut want = vec![15];
    want.extend([29; 5]);
    assert_eq!(Packing::limbs(p20, 29).unwrap().widths(), &want[..]);
    // Two 256-bit elements in one 64-byte message: two blocks of 9 limbs.
    let two = Packing::blocks(Params::new(4, 64).unwrap(), 256, 29).unwrap();
    assert_eq!(two.packed_items(), 18);
    assert_eq!(&two.widths()[..9], &two.widths()[9..]);
    let msg: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(91)).collect();
    let mut both = layout_limbs(&msg[..32], 29);
    both.extend(layout_limbs(&msg[32..], 29));
    assert_eq!(two.pack(&msg).unwrap(), both);
    // Shapes that do not fit are refused.
    assert_eq!(Packing::new(p20, vec![31, 129]), Err(CompactError::Width(31)));
    assert_eq!(Packing::new(p20, vec![30, 29]), Err(CompactError::WidthSum { got: 59, want: 160 }));
    assert_eq!(Packing::limbs(p20, 0), Err(CompactError::Width(0)));
    assert!(matches!(Packing::blocks(p20, 256, 29), Err(CompactError::Block { .. })));
}

#[test]
fn edge_messages_verify_for_many_shapes() {
    for (w, len, lb) in [(4, 32, 29), (4, 20, 29), (4, 16, 28), (1, 3, 29), (2, 5, 7), (3, 4, 29), (5, 3, 11), (6, 8, 30), (7, 4, 5), (8, 4, 29), (4, 2, 1)] {
        let c = case(w, len, lb);
        for msg in [vec![0u8; len], vec![0xff; len], (0..len).map(|i| (i * 37 + 11) as u8).collect()] {
            c.assert_ok(&msg);
        }
        let w = c.witness(&vec![0x5a; len]);
        check_effect(&c.keep(), &w).unwrap();
        check_effect(&c.drop(), &w).unwrap();
    }
}

#[test]
fn same_keys_and_signature_as_the_standard_check() {
    let c = case(4, 32, 29);
    let msg: Vec<u8> = (0..32u8).map(|i| i ^ 0xa7).collect();
    let sig = c.sk.sign(&msg).unwrap();
    // The standard witness passes the standard script, the compact one the compact script.
    let digits = c.packing.params().to_digits(&msg).unwrap();
    let mut old = old_verify_script(&c.pk);
    for d in digits.iter().rev() {
        old = old.push_int(*d as i64).op(OP_EQUALVERIFY);
    }
    assert!(run(&old.push_int(1), &sig.to_witness()).success());
    let w = c.packing.to_witness(&sig).unwrap();
    assert_eq!(w.len(), 76);
    assert!(run(&with_output_check(&c.keep(), &layout_limbs(&msg, 29)), &w).success());
    // The compact witness reads back into the same signature.
    assert_eq!(c.packing.signature_from_witness(&w).unwrap(), sig);
    assert_eq!(c.pk.verify(&c.packing.signature_from_witness(&w).unwrap()).unwrap(), msg);
}

#[test]
fn flipped_chain_values_fail() {
    let c = case(4, 32, 29);
    let msg = [0x3cu8; 32];
    let w = c.witness(&msg);
    for pos in [0usize, 1, 31, 63, 64, 65, 66] {
        let mut bad = w.clone();
        let i = c.index_of(WitnessSlot::Chain(pos));
        bad[i][7] ^= 1;
        assert_eq!(fail_kind(&c.drop(), &bad), ExecErrorKind::EqualVerify, "chain {pos}");
    }
}

#[test]
fn changed_limbs_fail() {
    let c = case(4, 32, 29);
    let msg: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(29) ^ 0x55).collect();
    let w = c.witness(&msg);
    let limbs = c.packing.pack(&msg).unwrap();
    for (j, limb) in limbs.iter().enumerate() {
        let i = c.index_of(WitnessSlot::Packed(j));
        // Another value in range: some digit changes, its chain (or the checksum's) fails.
        for delta in [1i64, -1, 1 << 20] {
            let v = *limb as i64 + delta;
            if v < 0 || v >= 1 << c.packing.widths()[j] {
                continue;
            }
            let mut bad = w.clone();
            bad[i] = encode_num(v);
            assert_eq!(fail_kind(&c.drop(), &bad), ExecErrorKind::EqualVerify, "limb {j} {delta:+}");
        }
    }
}

#[test]
fn limbs_out_of_range_fail() {
    // Greedy bit stripping reads a too-large item as all ones and a negative one as all zeros,
    // so with the all-ones (all-zeros) message every chain passes and the range check itself
    // (MINIMALIF on the last remainder) must catch it.
    let c = case(4, 32, 29);
    let ones = c.witness(&[0xffu8; 32]);
    let zeros = c.witness(&[0u8; 32]);
    let top = c.index_of(WitnessSlot::Packed(0));
    let low = c.index_of(WitnessSlot::Packed(8));
    for (w, i, item, what) in [
        (&ones, top, encode_num(1 << 24), "top limb 2^24"),
        (&ones, top, encode_num((1 << 25) + 5), "top limb 2^25 + 5"),
        (&ones, low, encode_num(1 << 29), "limb 2^29"),
        (&ones, low, encode_num((1 << 30) + 3), "limb 2^30 + 3"),
        (&zeros, low, encode_num(-1), "negative limb"),
        (&zeros, top, encode_num(-(1 << 23)), "negative top limb"),
    ] {
        let mut bad = w.clone();
        bad[i] = item;
        assert!(matches!(fail_kind(&c.drop(), &bad), ExecErrorKind::MinimalIf(_)), "{what}");
    }
    // Out of range against another message: some chain fails first.
    let mut bad = zeros.clone();
    bad[top] = encode_num(1 << 24);
    assert_eq!(fail_kind(&c.drop(), &bad), ExecErrorKind::EqualVerify);
    let mut bad = zeros.clone();
    bad[low] = vec![1, 0, 0, 0, 1];
    assert!(matches!(fail_kind(&c.drop(), &bad), ExecErrorKind::NumberOverflow { .. }));
    // 2^29 - 1 is in range but not signed.
    let mut bad = zeros.clone();
    bad[low] = encode_num((1 << 29) - 1);
    assert_eq!(fail_kind(&c.drop(), &bad), ExecErrorKind::EqualVerify);
}

#[test]
fn raised_digit_needs_a_different_checksum_chain() {
    // Anyone can raise a digit by hashing its chain element forward and raising the limb; the
    // checksum the script computes then goes down, which needs a checksum preimage.
    let c = case(4, 32, 29);
    let msg = [0x37u8; 32]; // digits 3, 7, 3, 7, ...
    let sig = c.sk.sign(&msg).unwrap();
    let mut forged_msg = msg;
    forged_msg[31] = 0x38; // least significant digit 7 -> 8
    let mut forged = sig.clone();
    forged.items[63].0 = hash160::Hash::hash(&forged.items[63].0).to_byte_array();
    forged.items[63].1 += 1;
    let w = c.packing.to_witness(&forged).unwrap();
    assert_eq!(c.packing.signature_from_witness(&w).unwrap().items[63], forged.items[63]);
    let limb0 = c.index_of(WitnessSlot::Packed(8));
    assert_eq!(w[limb0], encode_num(c.packing.pack(&forged_msg).unwrap()[8] as i64));
    let r = run(&c.drop().push_int(1), &w);
    let err = r.outcome.expect_err("forgery must fail");
    assert_eq!(err.kind, ExecErrorKind::EqualVerify);
    // It fails at a checksum chain: all 64 message chains passed, so the script got past them.
    let first_checksum_pk = c.pk.hashes()[64];
    let script = c.drop().to_script();
    let pos = script.as_bytes().windows(20).position(|x| x == first_checksum_pk).unwrap();
    assert!(err.offset > pos, "failed at offset {} before the checksum chains (at {pos})", err.offset);
    // Natively the same forgery is refused for its checksum.
    assert!(c.pk.verify(&forged).is_err());
    // Lowering a digit instead (without the preimage) fails its own message chain.
    let mut lowered = msg;
    lowered[0] = 0x27;
    let mut low_sig = sig.clone();
    low_sig.items[0].1 -= 1;
    let w = c.packing.to_witness(&low_sig).unwrap();
    assert_eq!(c.packing.pack(&lowered).unwrap()[0], c.packing.pack(&c.pk.verify(&sig).unwrap()).unwrap()[0] - (1 << 20));
    assert_eq!(fail_kind(&c.drop(), &w), ExecErrorKind::EqualVerify);
}

#[test]
fn non_minimal_limbs_are_read_like_consensus_and_left_minimal() {
    let c = case(4, 32, 29);
    let mut msg = [0u8; 32];
    msg[31] = 5; // small limbs: 5, 0 (empty item), 0x12 << 3, ...
    msg[27] = 0x12;
    msg[0] = 0xf0;
    let mut w = c.witness(&msg);
    let limbs = c.packing.pack(&msg).unwrap();
    for j in 0..limbs.len() {
        let i = c.index_of(WitnessSlot::Packed(j));
        if w[i].len() < 4 {
            w[i].push(0x00); // same number, one byte longer
        }
    }
    assert!(w.iter().any(|x| x == &[0x00]));
    let f = with_output_check(&c.keep(), &limbs);
    // Standardness (MINIMALDATA) refuses it; consensus accepts it and the outputs are minimal.
    assert!(!run(&f, &w).success());
    let r = execute_with(&f.to_script(), &w, &ExecOptions::default(), &ExecContext::consensus());
    assert!(r.success(), "{:?}", r.verdict());
}

#[test]
fn wrong_shapes_are_refused() {
    let c = case(4, 32, 29);
    let other = key(Params::new(4, 20).unwrap(), b"x").public_key();
    assert!(verify_script(&c.packing, &other).is_err());
    let sig20 = key(Params::new(4, 20).unwrap(), b"x").sign(&[1; 20]).unwrap();
    assert!(c.packing.to_witness(&sig20).is_err());
    let w = c.witness(&[9u8; 32]);
    assert!(c.packing.signature_from_witness(&w[1..]).is_err());
    let mut bad = w.clone();
    bad[c.index_of(WitnessSlot::Packed(0))] = encode_num(1 << 24);
    assert!(matches!(c.packing.signature_from_witness(&bad), Err(CompactError::Witness { .. })));
    let mut bad = w.clone();
    bad[c.index_of(WitnessSlot::Chain(3))].pop();
    assert!(matches!(c.packing.signature_from_witness(&bad), Err(CompactError::Witness { .. })));
    // A truncated witness fails in script.
    assert!(!run(&c.drop().push_int(1), &w[1..]).success());
}

#[test]
fn figures_of_256_and_160_bit_messages() {
    let layout = Layout::new(256, 29);
    let c256 = compact_figures(&Packing::limbs(Params::new(4, 32).unwrap(), 29).unwrap());
    assert_eq!(c256.items, 67 + 9);
    let old = crate::winternitz::size_figures(Params::new(4, 32).unwrap());
    assert!(c256.items * 10 <= 2 * old.digits * 6, "at least 40% fewer items");
    // Cheaper in script than the standard check plus the regrouping of its digits into limbs.
    assert!(c256.script_keep < old.script_keep + nibbles_to_limbs(&layout).len());
    // Working space beyond the witness stays small.
    assert!(c256.peak_items <= c256.items + 8, "peak {}", c256.peak_items);
    let c160 = compact_figures(&Packing::limbs(Params::new(4, 20).unwrap(), 29).unwrap());
    assert_eq!(c160.items, 43 + 6);
    assert!(c160.peak_items <= c160.items + 8);
}

#[test]
fn digits_pack_into_the_items_the_check_leaves() {
    for (len, lb) in [(20usize, 28u32), (16, 28), (32, 8), (4, 4)] {
        let params = Params::new(4, len).unwrap();
        let packing = Packing::limbs(params, lb).unwrap();
        let f = pack_digits(&packing).unwrap();
        for msg in [vec![0u8; len], vec![0xff; len], (0..len).map(|i| (i * 53 + 7) as u8).collect()] {
            let digits: Vec<Vec<u8>> = params.to_digits(&msg).unwrap().iter().map(|d| encode_num(*d as i64)).collect();
            let r = run(&with_output_check(&f, &packing.pack(&msg).unwrap()), &digits);
            assert!(r.success(), "len {len} lb {lb}: {:?}", r.verdict());
            check_effect(&f, &digits).unwrap();
        }
    }
    // Widths that split a digit, or digits that do not fill the message, are refused.
    assert!(pack_digits(&Packing::limbs(Params::new(4, 32).unwrap(), 29).unwrap()).is_err());
    assert!(pack_digits(&Packing::limbs(Params::new(3, 4).unwrap(), 6).unwrap()).is_err());
}

#[test]
fn signature_from_parts_checks_the_shape() {
    let params = Params::new(4, 4).unwrap();
    let sig = key(params, b"parts").sign(&[1, 2, 3, 4]).unwrap();
    assert_eq!(Signature::from_parts(params, sig.items.clone()).unwrap(), sig);
    assert!(Signature::from_parts(params, sig.items[1..].to_vec()).is_err());
    let mut bad = sig.items.clone();
    bad[2].1 = 16;
    assert!(Signature::from_parts(params, bad).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_256_bit_messages_leave_their_limbs(msg in proptest::collection::vec(any::<u8>(), 32)) {
        let c = case(4, 32, 29);
        let expected = layout_limbs(&msg, 29);
        prop_assert_eq!(c.packing.pack(&msg).unwrap(), expected.clone());
        let r = run(&with_output_check(&c.keep(), &expected), &c.witness(&msg));
        prop_assert!(r.success(), "{:?}", r.verdict());
        prop_assert!(r.peak_items <= 76 + 8);
    }

    #[test]
    fn random_160_bit_messages_leave_their_limbs(msg in proptest::collection::vec(any::<u8>(), 20)) {
        let c = case(4, 20, 29);
        let expected = layout_limbs(&msg, 29);
        let r = run(&with_output_check(&c.keep(), &expected), &c.witness(&msg));
        prop_assert!(r.success(), "{:?}", r.verdict());
    }

    #[test]
    fn any_shape_round_trips(w in 1u32..=8, msg in proptest::collection::vec(any::<u8>(), 1..12), lb in 1u32..=30) {
        let params = Params::new(w, msg.len()).unwrap();
        let packing = Packing::limbs(params, lb).unwrap();
        let packed = packing.pack(&msg).unwrap();
        prop_assert_eq!(packing.unpack(&packed).unwrap(), msg.clone());
        let sk = key(params, b"any");
        let sig = sk.sign(&msg).unwrap();
        let wit = packing.to_witness(&sig).unwrap();
        prop_assert_eq!(packing.signature_from_witness(&wit).unwrap(), sig);
        let f = with_output_check(&verify_script(&packing, &sk.public_key()).unwrap(), &packed);
        let r = run(&f, &wit);
        prop_assert!(r.success(), "{:?}", r.verdict());
    }

    #[test]
    fn any_single_packed_change_fails(msg in proptest::collection::vec(any::<u8>(), 4), j in 0usize..3, v in 0u32..(1 << 11)) {
        let c = case(4, 4, 11); // 32 bits: widths 10, 11, 11
        let packed = c.packing.pack(&msg).unwrap();
        let v = v % (1 << c.packing.widths()[j]);
        prop_assume!(v != packed[j]);
        let mut w = c.witness(&msg);
        w[c.index_of(WitnessSlot::Packed(j))] = encode_num(v as i64);
        prop_assert!(!run(&c.drop().push_int(1), &w).success());
    }
}
