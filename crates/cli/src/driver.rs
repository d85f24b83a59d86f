//! The client side of the protocol: the setup coordinator (untrusted: every party rebuilds and
//! checks the graph from its parameters before signing), the depositor, and the side system's
//! signed withdrawal requests. Used by `bitvm2 deposit`, `bitvm2 withdraw` and `bitvm2 demo`.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{Keypair, Message, Secp256k1};
use bitcoin::{Amount, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use bitvm2_node::{BitcoinRpc, Config, HttpRpc, Member, PeerClient, Role};
use bitvm2_txgraph::encode::decode_nonce_set;
use bitvm2_txgraph::wallet::{cpfp_child, p2tr_script, sign_p2tr_keypath};
use bitvm2_txgraph::{Coordinator, FeePolicy, FundingInput, Graph, Signatures, Timelocks, TxKind};
use bitvm2_verifier::protocol::*;
use serde_json::{json, Value};

/// Talks to the committee as one member (the coordinator) and to bitcoind.
pub struct Driver {
    /// Runtime for the async clients.
    pub rt: tokio::runtime::Runtime,
    /// The committee.
    pub members: Vec<Member>,
    /// Signs as the coordinating member.
    pub client: PeerClient,
    /// bitcoind.
    pub rpc: HttpRpc,
    /// Network-level retries for a restarting peer.
    pub retry_for: Duration,
}

/// A finished deposit.
pub struct Deposit {
    /// The graph.
    pub graph: Graph,
    /// Deposit txid.
    pub deposit: Txid,
    /// PegInConfirm txid.
    pub peg_in_confirm: Txid,
    /// Wall time of the setup rounds (offers to PegInConfirm signed).
    pub setup: Duration,
}

impl Driver {
    /// A driver signing as `keypair` (a committee member) from `config`'s committee and bitcoind.
    pub fn new(config: &Config, keypair: Keypair) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        if let Some(dir) = &config.params.statement_keys_dir {
            bitvm2_verifier::real::set_statement_keys_dir(dir).map_err(|e| anyhow!(e))?;
        }
        Ok(Driver {
            rt,
            members: config.committee.clone(),
            // Setup rounds of a Groth16 program regenerate thousands of leaves per graph.
            client: PeerClient::new(keypair, Duration::from_millis(config.peer.request_timeout_ms.max(300_000))),
            rpc: HttpRpc::from_config(&config.bitcoind),
            retry_for: Duration::from_secs(30),
        })
    }

    /// Members with `role`, config order.
    pub fn role(&self, role: Role) -> Vec<Member> {
        self.members.iter().filter(|m| m.role == role).cloned().collect()
    }

    /// Sends one message, retrying while the peer is unreachable (e.g. restarting).
    pub fn send(&self, m: &Member, kind: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.send_as(&self.client, m, kind, payload)
    }

    /// Same with another signer (a node's own admin key).
    pub fn send_as(&self, client: &PeerClient, m: &Member, kind: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let start = Instant::now();
        loop {
            match self.rt.block_on(client.send(m, kind, payload)) {
                Ok(r) => return Ok(r.payload),
                Err(e) => {
                    let s = e.to_string();
                    let transient = s.contains("connect") || s.contains("request") || s.contains("timed out") || s.contains("error sending");
                    if !transient || start.elapsed() > self.retry_for {
                        bail!("{} ({}) refused {kind}: {s}", m.name, m.url);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Runs `f` for every member at once (one thread each; the members work in parallel, as
    /// independent parties would) and returns the answers in `members`' order. The first
    /// error, in that order, is returned.
    pub fn each<T: Send>(&self, members: &[Member], f: impl Fn(&Member) -> Result<T> + Sync) -> Result<Vec<T>> {
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(move || f(m))).collect();
            handles.into_iter().map(|h| h.join().map_err(|_| anyhow!("a sender thread panicked"))?).collect()
        })
    }

    /// Sends the same message to every member at once; answers in `members`' order.
    pub fn send_each(&self, members: &[Member], kind: &str, payload: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.each(members, |m| self.send(m, kind, payload))
    }

    /// A JSON-RPC call.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value> {
        self.rt.block_on(self.rpc.call(method, params)).with_context(|| format!("bitcoind {method}"))
    }

    /// Mines `n` blocks.
    pub fn mine(&self, n: u64) -> Result<()> {
        let key = self.client.envelope("x", [0; 32], b"").sender;
        let x: bitcoin::secp256k1::XOnlyPublicKey = key.parse()?;
        self.mine_to(n, &p2tr_script(x))
    }

    /// Mines `n` blocks to `script`'s address.
    pub fn mine_to(&self, n: u64, script: &ScriptBuf) -> Result<()> {
        let a = bitcoin::Address::from_script(script, bitcoin::Network::Regtest)?;
        self.call("generatetoaddress", vec![json!(n), json!(a.to_string())])?;
        Ok(())
    }

    /// Height.
    pub fn height(&self) -> Result<u64> {
        Ok(self.rt.block_on(self.rpc.block_count())?)
    }

    /// Confirmations (None: unknown).
    pub fn confirmations(&self, txid: &Txid) -> Result<Option<u64>> {
        match self.rt.block_on(self.rpc.call("getrawtransaction", vec![json!(txid.to_string()), json!(true)])) {
            Ok(v) => Ok(Some(v.get("confirmations").and_then(Value::as_u64).unwrap_or(0))),
            Err(bitvm2_node::RpcError::Node { code: -5, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A mined or mempool transaction.
    pub fn tx(&self, txid: &Txid) -> Result<Transaction> {
        self.rt.block_on(self.rpc.get_raw_transaction(txid))?.ok_or_else(|| anyhow!("transaction {txid} not found"))
    }

    /// Block height a transaction confirmed at.
    pub fn tx_height(&self, txid: &Txid) -> Result<Option<u64>> {
        Ok(self.confirmations(txid)?.filter(|c| *c > 0).map(|c| self.height().unwrap_or(0) + 1 - c))
    }

    /// Unspent output (mempool included).
    pub fn utxo(&self, o: &OutPoint) -> Result<Option<TxOut>> {
        Ok(self.rt.block_on(self.rpc.get_tx_out(o, true))?.map(|u| u.txout))
    }

    /// Matured coins of `script`.
    pub fn coins(&self, script: &ScriptBuf) -> Result<Vec<FundingInput>> {
        // bitcoind runs one scan at a time; the daemons scan too: retry while busy.
        let mut tries = 0;
        let v = loop {
            match self.rt.block_on(self.rpc.call("scantxoutset", vec![json!("start"), json!([format!("raw({})", script.to_hex_string())])])) {
                Ok(v) => break v,
                Err(bitvm2_node::RpcError::Node { code: -8, .. }) if tries < 200 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20 + (tries % 5) * 7));
                }
                Err(e) => return Err(anyhow::Error::from(e).context("bitcoind scantxoutset")),
            }
        };
        let tip = self.height()?;
        let mut out = Vec::new();
        for u in v["unspents"].as_array().cloned().unwrap_or_default() {
            if u["coinbase"].as_bool().unwrap_or(false) && tip < u["height"].as_u64().unwrap_or(0) + 100 {
                continue;
            }
            out.push(FundingInput {
                outpoint: OutPoint { txid: u["txid"].as_str().unwrap_or_default().parse()?, vout: u["vout"].as_u64().unwrap_or(0) as u32 },
                txout: TxOut { value: Amount::from_btc(u["amount"].as_f64().unwrap_or(0.0))?, script_pubkey: script.clone() },
            });
        }
        Ok(out)
    }

    /// Submits a package.
    pub fn submit_package(&self, txs: &[Transaction]) -> Result<()> {
        let r = self.rt.block_on(self.rpc.submit_package(txs))?;
        ensure!(r.is_success(), "submitpackage: {}", r.errors());
        Ok(())
    }

    /// Sends one transaction.
    pub fn send_tx(&self, tx: &Transaction) -> Result<Txid> {
        self.call("sendrawtransaction", vec![json!(serialize_hex(tx))])?;
        Ok(tx.compute_txid())
    }

    /// Full setup of one deposit and the peg-in: offers, graph, nonces, presigning, the graph
    /// stored everywhere, then PegInConfirm signed and the depositor's coins moved into the vault.
    pub fn deposit(&self, depositor: &Keypair, amount: Amount, timelocks: Timelocks, progress: &dyn Fn(&str)) -> Result<Deposit> {
        let start = Instant::now();
        let dep_script = p2tr_script(depositor.x_only_public_key().0);
        let coins = self.coins(&dep_script)?;
        let fees = FeePolicy::default();
        let need = amount + fees.deposit_fee + Amount::from_sat(40_000);
        let used: Vec<FundingInput> = coins.iter().filter(|c| c.txout.value >= need).take(1).cloned().collect();
        let child_coin = coins.iter().find(|c| !used.contains(c)).cloned().ok_or_else(|| anyhow!("depositor needs two coins (deposit and fee)"))?;
        ensure!(!used.is_empty(), "depositor has no coin of at least {need}");
        let verifiers = self.role(Role::Verifier);
        let operators = self.role(Role::Operator);
        let committee = verifiers
            .iter()
            .map(|m| Ok(m.public_key().map_err(|e| anyhow!(e))?.public_key(bitcoin::secp256k1::Parity::Even)))
            .collect::<Result<Vec<_>>>()?;
        let req = DepositRequest {
            depositor: depositor.public_key(),
            inputs: used,
            amount,
            change_script: dep_script.clone(),
            refund_script: dep_script.clone(),
            committee,
            timelocks,
            fees,
        };
        // 1. Offers.
        let req_bytes = encode(&req);
        let answers = self.each(&operators, |op| {
            let o: OperatorOffer = decode(kind::OFFER, &self.send(op, kind::OFFER, &req_bytes)?)?;
            // Its Winternitz keys, checked by hash (the coordinator rebuilds the graph too).
            let blob = self.rt.block_on(self.client.fetch_blob(&op.url, &o.program.keys)).with_context(|| format!("{}'s program keys", op.name))?;
            Ok((o, blob))
        })?;
        let mut offers = Vec::new();
        let mut programs = Vec::new();
        for (o, blob) in answers {
            bitvm2_verifier::real::remember_blob(blob);
            offers.push(o.params);
            programs.push(o.program);
        }
        progress(&format!("{} operator offers (claim coins queued)", offers.len()));
        // Claim coins must be mined before anyone can kick off; mine once they are in the mempool.
        let deadline = Instant::now() + Duration::from_secs(20);
        for o in &offers {
            while self.confirmations(&o.kickoff_funding.outpoint.txid)?.is_none() {
                ensure!(Instant::now() < deadline, "claim coin {} never reached the mempool", o.kickoff_funding.outpoint.txid);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.mine(1)?;
        // 2. The graph, to everyone.
        // The coordinator regenerates every operator's program scripts from its keys, like
        // every receiver will.
        let params = bitvm2_txgraph::encode::encode_params(&req.params(offers));
        let built = bitvm2_verifier::real::build(&params, &programs, None).map_err(|e| anyhow!("building the graph: {e}"))?;
        let g = built.graph.clone();
        let gmsg = encode(&GraphMsg { graph_id: g.id(), params: hex::encode(&params), programs });
        let m = operators.len();
        let mut challenge_sigs = vec![None; m];
        let mut nonces = Vec::new();
        let members: Vec<Member> = operators.iter().chain(&verifiers).cloned().collect();
        for answer in self.send_each(&members, kind::GRAPH, &gmsg)? {
            match decode::<GraphReply>(kind::GRAPH, &answer)? {
                GraphReply::ChallengeSig { operator, sig } => {
                    *challenge_sigs.get_mut(operator as usize).ok_or_else(|| anyhow!("bad operator index"))? = Some(sig)
                }
                GraphReply::Nonces(sets) => nonces.push(
                    sets.iter().map(|h| Ok(decode_nonce_set(&hex::decode(h)?)?)).collect::<Result<Vec<_>>>()?,
                ),
            }
        }
        let challenge_sigs: Vec<_> = challenge_sigs.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| anyhow!("missing Challenge signature"))?;
        progress(&format!("graph {} checked by {} members; nonces from {} verifiers", g.id(), m + verifiers.len(), nonces.len()));
        // 3. Rounds.
        let sessions = sessions(&g).map_err(|e| anyhow!(e))?;
        let mut coords: Vec<Coordinator> = sessions.iter().cloned().map(Coordinator::new).collect();
        let mut rounds = Vec::new();
        for (s, c) in coords.iter_mut().enumerate() {
            for v in &nonces {
                c.add_nonce_set(v[s].clone())?;
            }
            rounds.push(c.nonce_round()?);
        }
        let sign = SignMsg { graph_id: g.id(), challenge_sigs: challenge_sigs.clone(), rounds: rounds[..m].to_vec() };
        for (v, answer) in verifiers.iter().zip(self.send_each(&verifiers, kind::SIGN, &encode(&sign))?) {
            let PartialsReply(p) = decode(kind::SIGN, &answer)?;
            ensure!(p.len() == m, "{} answered {} partial sets", v.name, p.len());
            for (i, set) in p.into_iter().enumerate() {
                coords[i].add_partials(set)?;
            }
        }
        let sigs: Vec<Signatures> = coords[..m].iter().map(|c| c.finish()).collect::<Result<_, _>>()?;
        let tasks: usize = sigs.iter().map(|s| s.len()).sum();
        progress(&format!("{m} peg-out graphs presigned ({tasks} committee signatures)"));
        // 4. Everyone stores the presigned graph.
        let pre = PresignedMsg { graph_id: g.id(), challenge_sigs, sigs: sigs.iter().map(sigs_to_list).collect() };
        for (mem, a) in members.iter().zip(self.send_each(&members, kind::PRESIGNED, &encode(&pre))?) {
            ensure!(a == b"stored", "{} did not store the graph", mem.name);
        }
        progress("every member checked and stored every peg-out graph");
        // 5. PegInConfirm.
        let pin = SignPegInMsg { graph_id: g.id(), round: rounds[m].clone() };
        for answer in self.send_each(&verifiers, kind::SIGN_PEGIN, &encode(&pin))? {
            let PartialsReply(p) = decode(kind::SIGN_PEGIN, &answer)?;
            coords[m].add_partials(p.into_iter().next().ok_or_else(|| anyhow!("empty answer"))?)?;
        }
        let pegin = coords[m].finish()?;
        for (i, s) in sigs.iter().enumerate() {
            g.verify_peg_out_presigned(i, s)?;
        }
        let setup = start.elapsed();
        // 6. The depositor's coins move: Deposit, then PegInConfirm with its CPFP child.
        let mut dtx = g.peg_in.deposit.tx.clone();
        let prevouts: Vec<TxOut> = g.peg_in.deposit.inputs.iter().map(|i| i.prevout.clone()).collect();
        for k in 0..dtx.input.len() {
            sign_p2tr_keypath(&mut dtx, k, &prevouts, depositor)?;
        }
        let deposit = self.send_tx(&dtx)?;
        self.mine(1)?;
        let t = g.depositor_tasks()?.into_iter().find(|t| t.id.tx == TxKind::PegInConfirm).ok_or_else(|| anyhow!("no depositor task"))?;
        let dsig = Secp256k1::new().sign_schnorr_no_aux_rand(&Message::from_digest(t.sighash), depositor);
        let pic = g.peg_in_confirm_tx(&pegin, &dsig)?;
        let (mut child, pv) = cpfp_child(&pic, &child_coin, dep_script, Amount::from_sat(20_000))?;
        sign_p2tr_keypath(&mut child, 1, &pv, depositor)?;
        self.submit_package(&[pic.clone(), child])?;
        self.mine(1)?;
        let peg_in_confirm = pic.compute_txid();
        ensure!(self.confirmations(&peg_in_confirm)?.unwrap_or(0) >= 1, "PegInConfirm not mined");
        progress(&format!("vault funded: PegInConfirm {peg_in_confirm}"));
        Ok(Deposit { graph: g, deposit, peg_in_confirm, setup })
    }

    /// Sends a withdrawal request signed by the side system to every member.
    pub fn withdraw(&self, side: &Keypair, req: WithdrawalRequest) -> Result<String> {
        let signed = req.sign(side);
        let id = hex::encode(signed.request.id());
        for m in &self.members.clone() {
            self.send(m, kind::WITHDRAW, &encode(&signed))?;
        }
        Ok(id)
    }

    /// `/status` of a member.
    pub fn status(&self, m: &Member) -> Result<Value> {
        let url = format!("{}/status", m.url.trim_end_matches('/'));
        self.rt.block_on(async {
            let r = reqwest::Client::new().get(&url).timeout(Duration::from_secs(5)).send().await?;
            r.json::<Value>().await
        })
        .with_context(|| format!("GET {url}"))
    }
}
