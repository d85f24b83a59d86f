//! Helpers shared by the regtest scenario tests: keys we hold, and key-path signing.
#![allow(dead_code)]

use bitcoin::key::{Keypair, TapTweak, UntweakedPublicKey};
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::{Address, Network, ScriptBuf, TapSighashType, Transaction, TxOut, Witness};

/// A P2TR key (no script tree) that a test holds the secret of.
pub struct TestKey {
    pub keypair: Keypair,
}

impl TestKey {
    /// A key derived from `seed` (tests stay reproducible).
    pub fn from_seed(seed: u8) -> Self {
        let secp = Secp256k1::new();
        let mut bytes = [0x11u8; 32];
        bytes[31] = seed;
        let sk = SecretKey::from_slice(&bytes).expect("valid secret key");
        TestKey { keypair: Keypair::from_secret_key(&secp, &sk) }
    }

    pub fn internal_key(&self) -> UntweakedPublicKey {
        self.keypair.x_only_public_key().0
    }

    /// The key-path-only P2TR address of this key on regtest.
    pub fn address(&self) -> Address {
        Address::p2tr(&Secp256k1::new(), self.internal_key(), None, Network::Regtest)
    }

    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address().script_pubkey()
    }

    /// Signs input `index` of `tx` by key path (SIGHASH_DEFAULT), given all spent outputs.
    pub fn sign_key_path(&self, tx: &mut Transaction, index: usize, prevouts: &[TxOut]) {
        let secp = Secp256k1::new();
        let sighash = SighashCache::new(&*tx)
            .taproot_key_spend_signature_hash(index, &Prevouts::All(prevouts), TapSighashType::Default)
            .expect("sighash");
        let tweaked = self.keypair.tap_tweak(&secp, None);
        let msg = Message::from_digest(sighash.to_byte_array());
        let sig = secp.sign_schnorr(&msg, &tweaked.to_keypair());
        let sig = bitcoin::taproot::Signature { signature: sig, sighash_type: TapSighashType::Default };
        tx.input[index].witness = Witness::p2tr_key_spend(&sig);
    }
}

use bitcoin::hashes::Hash as _;

/// Builds the `bitvm2` binary (dev profile) in this test's own target dir and returns its path,
/// for tests that run the daemons as real processes.
pub fn bitvm2_exe() -> anyhow::Result<std::path::PathBuf> {
    use anyhow::{ensure, Context};
    let me = std::env::current_exe()?;
    let target = me
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .context("target dir")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "bitvm2-cli", "--bin", "bitvm2"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    ensure!(st.success(), "building bitvm2 failed");
    Ok(target.join("debug").join("bitvm2"))
}
