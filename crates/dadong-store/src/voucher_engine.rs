//! The claim engine: one task per process that group-commits claims (on SQLite, on a thread
//! of its own).
//!
//! Requests arrive through a channel. The task takes whatever is waiting (up to
//! [`EngineConfig::batch_max`]), and for each campaign in it runs [`Store::claim_batch`]: one
//! transaction that locks the campaign, decides the batch, writes its vouchers, stock,
//! budget and ledger entries, and commits. Only then does every request of the batch get
//! its answer, so an acknowledged claim is on disk. While one batch commits the next one
//! gathers, so the batch grows with the load and one fsync serves thousands of claims.
//!
//! Nothing correctness-bearing lives in the task: stock, budget, per-person counts and
//! idempotency keys are read from the database under the campaign's lock in every batch,
//! so any number of processes may run an engine against one PostgreSQL.

use crate::vouchers::{ClaimAnswer, PendingClaim};
use crate::{Result, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The clock the engine decides by (milliseconds since the epoch); tests pass their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Clone)]
pub struct EngineConfig {
    /// The most claims one transaction takes.
    pub batch_max: usize,
    /// The most claims waiting before senders wait too (back-pressure).
    pub queue_max: usize,
    pub clock: Clock,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_max: 4096,
            queue_max: 65_536,
            clock: Arc::new(crate::now_ms),
        }
    }
}

type Reply = oneshot::Sender<std::result::Result<ClaimAnswer, String>>;

/// A handle on the engine task; cheap to clone. The task ends when every handle is dropped.
#[derive(Clone)]
pub struct ClaimEngine {
    sender: mpsc::Sender<(PendingClaim, Reply)>,
}

impl std::fmt::Debug for ClaimEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimEngine").finish_non_exhaustive()
    }
}

impl ClaimEngine {
    /// Starts the engine: on SQLite on a thread of its own (see [`run_on_own_thread`]), on
    /// PostgreSQL as a task of the caller's runtime, whose sockets its connections use.
    pub fn start(store: Store, config: EngineConfig) -> ClaimEngine {
        let (sender, receiver) = mpsc::channel(config.queue_max.max(1));
        match store.backend() {
            crate::Backend::Sqlite => run_on_own_thread(store, config, receiver),
            crate::Backend::Postgres => {
                tokio::spawn(run(store, config, receiver));
            }
        }
        ClaimEngine { sender }
    }

    /// Submits one claim and waits for its committed answer.
    pub async fn claim(&self, claim: PendingClaim) -> Result<ClaimAnswer> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((claim, reply))
            .await
            .map_err(|_| StoreError::Conflict("the claim engine has stopped".into()))?;
        match answer.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(StoreError::Conflict(format!("the claim batch failed and nothing of it was written: {e}"))),
            Err(_) => Err(StoreError::Conflict("the claim engine has stopped".into())),
        }
    }
}

/// Runs the engine on a thread and runtime of its own. On SQLite each statement of a batch is
/// a round trip to its connection's worker thread, and the answer wakes the engine from
/// outside the runtime: on the server's runtime that wake waits in the shared queue, which a
/// worker busy with HTTP connections looks at only every few dozen tasks, so each of a
/// batch's round trips waited behind the very requests the batch would answer. Here nothing
/// else runs on the engine's thread. SQLite connections belong to no runtime, so the pool is
/// shared safely; the thread ends with the engine.
fn run_on_own_thread(store: Store, config: EngineConfig, receiver: mpsc::Receiver<(PendingClaim, Reply)>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let spawned = runtime.map_err(|e| e.to_string()).and_then(|runtime| {
        std::thread::Builder::new()
            .name("claim-engine".into())
            .spawn(move || runtime.block_on(run(store, config, receiver)))
            .map_err(|e| e.to_string())
    });
    if let Err(e) = spawned {
        // The receiver is gone with the closure: every claim is answered that the engine
        // has stopped, and the error says why.
        tracing::error!(error = %e, "the claim engine could not start its thread");
    }
}

async fn run(store: Store, config: EngineConfig, mut receiver: mpsc::Receiver<(PendingClaim, Reply)>) {
    let mut batch = Vec::with_capacity(config.batch_max);
    loop {
        batch.clear();
        if receiver.recv_many(&mut batch, config.batch_max).await == 0 {
            return;
        }
        // Group by campaign, keeping arrival order within each.
        let mut groups: BTreeMap<i64, (Vec<PendingClaim>, Vec<Reply>)> = BTreeMap::new();
        for (claim, reply) in batch.drain(..) {
            let g = groups.entry(claim.campaign_id).or_default();
            g.0.push(claim);
            g.1.push(reply);
        }
        for (campaign_id, (claims, replies)) in groups {
            let now = (config.clock)();
            match store.claim_batch(campaign_id, &claims, now).await {
                Ok(answers) => {
                    for (reply, a) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(a));
                    }
                }
                Err(e) => {
                    tracing::error!(campaign_id, error = %e, "claim batch failed; rolled back");
                    for reply in replies {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}
